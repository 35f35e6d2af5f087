"""The tutorial chapter's script, done the chapter's way: the baseline the asset graph must beat.

psycopg2 and `pandas.read_sql`, MLflow's defaults for `log_model` (it infers the pip
requirements in a subprocess) unless `--explicit-requirements` names them as the graph does.
Services come from the environment, as for the graph: IRIS_DATABASE_URL and MLFLOW_TRACKING_URI.
"""

import os
import warnings
from argparse import ArgumentParser
from importlib.metadata import version

import mlflow
import pandas as pd
import psycopg2
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

# The graph's pins (iris_assets.assets.registry), repeated: the baseline imports no project code.
MODEL_REQUIREMENTS = [
    f"{name}=={version(name)}"
    for name in ("mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas")
]

parser = ArgumentParser()
parser.add_argument("--model-name", dest="model_name", type=str, default="sk_model")
parser.add_argument("--explicit-requirements", action="store_true")
args = parser.parse_args()

# 1. get data
db_connect = psycopg2.connect(os.environ["IRIS_DATABASE_URL"])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pandas: "only supports SQLAlchemy connectable"
    df = pd.read_sql("SELECT * FROM iris_data ORDER BY id DESC LIMIT 100", db_connect)
X = df.drop(["id", "timestamp", "target"], axis="columns")
y = df["target"]
X_train, X_valid, y_train, y_valid = train_test_split(X, y, train_size=0.8, random_state=2022)

# 2. model development and train
model_pipeline = Pipeline([("scaler", StandardScaler()), ("svc", SVC())])
model_pipeline.fit(X_train, y_train)
train_pred = model_pipeline.predict(X_train)
valid_pred = model_pipeline.predict(X_valid)
train_acc = accuracy_score(y_true=y_train, y_pred=train_pred)
valid_acc = accuracy_score(y_true=y_valid, y_pred=valid_pred)
print("Train Accuracy :", train_acc)
print("Valid Accuracy :", valid_acc)

# 3. save model
mlflow.set_experiment("new-exp")
signature = mlflow.models.signature.infer_signature(model_input=X_train, model_output=train_pred)
input_sample = X_train.iloc[:10]
with mlflow.start_run():
    mlflow.log_metrics({"train_acc": train_acc, "valid_acc": valid_acc})
    mlflow.sklearn.log_model(
        sk_model=model_pipeline,
        name=args.model_name,
        signature=signature,
        input_example=input_sample,
        pip_requirements=MODEL_REQUIREMENTS if args.explicit_requirements else None,
    )

# 4. save data
df.to_csv("data.csv", index=False)
