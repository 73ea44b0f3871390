"""Models: one package format whatever library trained the model, MLflow-compatible.

    import trackway.models as models

    info = models.log_model(estimator, "model", input_example=X[:5],
                            registered_model_name="churn")
    model = models.load_model("models:/churn@champion")   # or info.model_uri
    model.predict(models.validate_input(model.metadata.signature, frame))

A saved model is a folder: an `MLmodel` YAML file (flavors, signature, input example,
run id, creation time, uuid), the serialized model, `input_example.json`, and the
environment files `requirements.txt`, `python_env.yaml` and `conda.yaml`. MLflow loads
our scikit-learn, PyTorch and custom python models, and we load MLflow's.

Security: `load_model` unpickles, which runs code from the model's files. Load only
models you trust. Reading metadata (`get_model_info`, the registry) never unpickles.
"""

from trackway.models.inference import infer_signature
from trackway.models.load import fetch, get_model_info, load_model
from trackway.models.log import ModelInfo, log_model
from trackway.models.mlmodel import ModelMetadata
from trackway.models.pyfunc import PyFuncModel
from trackway.models.python_model import PythonModel, PythonModelContext
from trackway.models.save import save_model
from trackway.models.schema import ColumnSpec, Signature, TensorSpec
from trackway.models.signature import validate_input

__all__ = [
    "ColumnSpec",
    "ModelInfo",
    "ModelMetadata",
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "Signature",
    "TensorSpec",
    "fetch",
    "get_model_info",
    "infer_signature",
    "load_model",
    "log_model",
    "save_model",
    "validate_input",
]
