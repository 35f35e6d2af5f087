#!/bin/sh
# The official entrypoint presets flags for master, volume, server, filer, s3 and shell; any other
# command, such as the `mini` that docker-compose.yaml runs, goes to weed as it is.
exec /usr/bin/weed "$@"
