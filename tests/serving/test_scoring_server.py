"""`trackway models serve` as a real process, serving a scikit-learn model registered in a
live Trackway server: MLflow's request formats, CSV, validation errors and probes."""

from __future__ import annotations

import signal
import time

import pytest

from tests.serving.conftest import MODEL_NAME, Registered, Scoring, rows
from trackway import __version__


def test_probes(champion: Scoring) -> None:
    for path in ("/ping", "/health"):
        answer = champion.get(path)
        assert answer.status_code == 200 and answer.text == "OK"
    assert champion.get("/version").text == __version__
    missing = champion.get("/nope")
    assert missing.status_code == 404 and missing.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    wrong = champion.get("/invocations")
    assert wrong.status_code == 405 and "takes POST" in wrong.json()["message"]


def test_every_request_format(champion: Scoring, registered: Registered) -> None:
    frame = registered.features
    columns = list(frame.columns)
    records = frame.to_dict(orient="records")
    bodies = {
        "dataframe_split": {"dataframe_split": {"columns": columns, "data": rows(frame)}},
        "dataframe_split with index": {
            "dataframe_split": {
                "columns": columns,
                "data": rows(frame),
                "index": [10, 11, 12, 13],
            }
        },
        "dataframe_records": {"dataframe_records": records},
        "instances as records": {"instances": records},
        "instances as rows": {"instances": rows(frame)},
        "inputs as columns": {"inputs": {c: frame[c].tolist() for c in columns}},
        "inputs as rows": {"inputs": rows(frame)},
    }
    for name, body in bodies.items():
        answer = champion.post(body)
        assert answer.status_code == 200, (name, answer.text)
        assert answer.json() == {"predictions": registered.expected}, name
    csv = champion.post(frame.to_csv(index=False), "text/csv")
    assert csv.status_code == 200, csv.text
    assert csv.json() == {"predictions": registered.expected}
    charset = champion.post(bodies["dataframe_records"], "application/json; charset=utf-8")
    assert charset.json() == {"predictions": registered.expected}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ('{"dataframe_split": ', "application/json", 400, "the body is not valid JSON"),
        ("[1, 2]", "application/json", 400, "must be a JSON object"),
        ('{"rows": []}', "application/json", 400, "exactly one of dataframe_split"),
        (
            '{"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}',
            "application/json",
            400,
            "it has 'instances', 'inputs'",
        ),
        ('{"dataframe_split": {"cols": []}}', "application/json", 400, "dataframe_split must be"),
        (
            '{"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}',
            "application/json",
            400,
            "dataframe_split does not make a table",
        ),
        ('{"dataframe_records": [1, 2]}', "application/json", 400, "a list of objects"),
        ('{"instances": []}', "application/json", 400, "instances must be a non-empty list"),
        (
            '{"dataframe_records": [{"sepal_length": 1, "sepal_width": 2, "petal_length": 3}]}',
            "application/json",
            400,
            "missing column 'petal_width'",
        ),
        (
            '{"dataframe_records": [{"sepal_length": "long", "sepal_width": 2, '
            '"petal_length": 3, "petal_width": 4}]}',
            "application/json",
            400,
            "column 'sepal_length' must be double; got values of type str",
        ),
        ('{"inputs": [[1, 2]]}', "application/json", 400, "expected rows of 4 values"),
        (
            '{"inputs": {"sepal_length": [1, 2], "sepal_width": [1]}}',
            "application/json",
            400,
            "the columns must have the same number of values; 'sepal_length' has 2",
        ),
        ('{"instances": [{"a": 1}, {"b": 2}]}', "application/json", 400, "instances[1] has keys"),
        ('{"inputs": [[1, 2, 3, 4]], "params": [1]}', "application/json", 400, "params must be"),
        ("", "text/csv", 400, "the CSV body is empty"),
        ('a,b\n1,"2\n', "text/csv", 400, "not valid CSV"),
        ("sepal_length\n1\n", "text/csv", 400, "missing column 'sepal_width'"),
        ("1,2,3,4", "text/plain", 415, "Content-Type 'text/plain' is not supported"),
    ],
)
def test_bad_input_is_a_400_that_says_what_is_wrong(
    champion: Scoring, body: str, content_type: str, status: int, message: str
) -> None:
    answer = champion.post(body, content_type)
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert error["error_code"] == "BAD_REQUEST"
    assert message in error["message"]


@pytest.mark.parametrize("uri", ["models:/NAME/1", "runs:/RUN/model", "LOCAL"])
def test_other_model_uris(registered: Registered, uri: str) -> None:
    uri = (
        uri.replace("NAME", MODEL_NAME)
        .replace("RUN", registered.run_id)
        .replace("LOCAL", str(registered.local_path))
    )
    scoring = Scoring(uri, registered.tracking_uri, "--port", "0")
    try:
        ready = scoring.wait_ready()
        scoring.url = ready["url"]  # --port 0 picked a free port, which the line names
        body = {"dataframe_records": registered.features.to_dict(orient="records")}
        assert scoring.post(body).json() == {"predictions": registered.expected}
    finally:
        code, err = scoring.stop()
    assert code == 0, err  # SIGTERM drains and exits cleanly


def test_model_errors_are_500s_and_slow_models_503s(registered: Registered) -> None:
    scoring = Scoring(registered.moody_uri, registered.tracking_uri, "--timeout", "2")
    try:
        scoring.wait_ready()
        fine = scoring.post({"inputs": [[1.0, 2.0]]})
        assert fine.json() == {"predictions": [[2.0, 4.0]]}
        failed = scoring.post({"inputs": [[-1.0]]})
        assert failed.status_code == 500
        assert failed.json() == {
            "error_code": "INTERNAL_ERROR",
            "message": "the model failed: ValueError: negative values are not allowed",
        }
        started = time.monotonic()
        slow = scoring.post({"inputs": [[999.0]]})
        assert slow.status_code == 503 and time.monotonic() - started < 15
        assert "did not answer within 2 s" in slow.json()["message"]
        # Probes and other requests are answered while the stuck prediction runs on.
        assert scoring.get("/ping").status_code == 200
        assert scoring.post({"inputs": [[3.0]]}).json() == {"predictions": [[6.0]]}
    finally:
        scoring.stop()


def test_a_model_that_cannot_be_loaded_is_one_line(registered: Registered) -> None:
    scoring = Scoring(f"models:/{MODEL_NAME}@nobody", registered.tracking_uri)
    with pytest.raises(AssertionError) as err:
        scoring.wait_ready()
    assert scoring.proc.returncode == 1
    lines = str(err.value).split(": ", 1)[1].strip().splitlines()
    assert lines[0].startswith("trackway: loading model")
    assert lines[-1].startswith("trackway: error: ") and "nobody" in lines[-1]
    assert "Traceback" not in str(err.value)


def test_sigint_stops_the_server(registered: Registered) -> None:
    scoring = Scoring(str(registered.local_path), registered.tracking_uri)
    scoring.wait_ready()
    scoring.proc.send_signal(signal.SIGINT)
    assert scoring.proc.wait(30) == 0
    scoring.stop()
