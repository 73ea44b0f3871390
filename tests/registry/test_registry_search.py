"""SearchRegisteredModels and SearchModelVersions: filter tables, order, keyset pages,
and malformed input that names the offending token and its position. One server per
backend holds the data for the whole module; the tests only read."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.registry.conftest import Api, model_tag, new_run, version_tag
from tests.test_tracking_rpcs import INVALID, assert_error
from trackway.gen.registry.v1 import model_registry_service_pb2 as pb
from trackway.gen.registry.v1 import model_version_pb2 as mvpb

# name: tags
MODELS = {
    "alpha": {"team": "vision", "owner": "ana"},
    "Beta": {"team": "nlp"},
    "gamma-model": {"team": "Vision", "note": "50% done"},
    "delta.v2": {},
    "epsilon_1": {"owner": "bob"},
    "zeta model": {"team": "nlp", "owner": "cy"},
}
# (model, run key or None, path, stage, tags); versions are numbered in order per model.
VERSIONS = [
    ("alpha", "A", "model", mvpb.MODEL_VERSION_STAGE_NONE, {}),
    ("alpha", "A", "model2", mvpb.MODEL_VERSION_STAGE_PRODUCTION, {"validated": "yes"}),
    ("alpha", None, "shared/alpha", mvpb.MODEL_VERSION_STAGE_STAGING, {"validated": "no"}),
    ("Beta", "B", "bert", mvpb.MODEL_VERSION_STAGE_PRODUCTION, {"validated": "yes"}),
    ("gamma-model", None, "shared/gamma", mvpb.MODEL_VERSION_STAGE_ARCHIVED, {}),
    ("gamma-model", "B", "gamma", mvpb.MODEL_VERSION_STAGE_NONE, {"note": "50% done"}),
    ("zeta model", "A", "zeta", mvpb.MODEL_VERSION_STAGE_NONE, {}),
]


@dataclass
class Data:
    api: Api
    runs: dict[str, str]


@pytest.fixture(scope="module")
def data(module_api: Api) -> Data:
    stub = module_api.registry
    runs = {key: new_run(module_api.tracking) for key in ("A", "B")}
    for name, tags in MODELS.items():
        stub.CreateRegisteredModel(
            pb.CreateRegisteredModelRequest(
                name=name, tags=[model_tag(k, v) for k, v in tags.items()]
            )
        )
    for name, run_key, path, stage, tags in VERSIONS:
        if run_key:
            source, run_id = f"runs:/{runs[run_key].run_id}/{path}", ""
        else:
            source, run_id = f"{module_api.root}/{path}", ""
        version = stub.CreateModelVersion(
            pb.CreateModelVersionRequest(
                name=name,
                source=source,
                run_id=run_id,
                tags=[version_tag(k, v) for k, v in tags.items()],
            )
        ).model_version
        if stage != mvpb.MODEL_VERSION_STAGE_NONE:
            stub.TransitionModelVersionStage(
                pb.TransitionModelVersionStageRequest(
                    name=name, version=version.version, stage=stage
                )
            )
    return Data(module_api, {key: info.run_id for key, info in runs.items()})


def search_models(
    api: Api, filter_text: str = "", **kw: object
) -> pb.SearchRegisteredModelsResponse:
    request = pb.SearchRegisteredModelsRequest(filter=filter_text, **kw)
    return api.registry.SearchRegisteredModels(request)


def search_versions(
    api: Api, filter_text: str = "", **kw: object
) -> pb.SearchModelVersionsResponse:
    request = pb.SearchModelVersionsRequest(filter=filter_text, **kw)
    return api.registry.SearchModelVersions(request)


ALL_MODELS = set(MODELS)
MODEL_CASES: list[tuple[str, set[str]]] = [
    ("", ALL_MODELS),
    ("name = 'alpha'", {"alpha"}),
    ("name != 'alpha'", ALL_MODELS - {"alpha"}),
    ("name LIKE 'a%'", {"alpha"}),
    ("name LIKE '%model'", {"gamma-model", "zeta model"}),
    ("name ILIKE 'b%'", {"Beta"}),
    ("name LIKE 'b%'", set()),
    ("name LIKE 'delta._2'", {"delta.v2"}),
    ("name LIKE 'epsilon\\_1'", {"epsilon_1"}),
    ("attributes.name IN ('alpha', 'Beta', 'nope')", {"alpha", "Beta"}),
    ("name NOT IN ('alpha', 'Beta')", ALL_MODELS - {"alpha", "Beta"}),
    ("name = 'zeta model'", {"zeta model"}),
    ("tags.team = 'vision'", {"alpha"}),
    ("tags.team ILIKE 'vision'", {"alpha", "gamma-model"}),
    ("tags.team != 'nlp'", {"alpha", "gamma-model"}),
    ("tags.owner IS NULL", {"Beta", "gamma-model", "delta.v2"}),
    ("tag.owner IS NOT NULL", {"alpha", "epsilon_1", "zeta model"}),
    ("tags.note LIKE '50\\%%'", {"gamma-model"}),
    ("tags.`team` = 'nlp' AND name LIKE 'z%'", {"zeta model"}),
    ("tags.team = 'nlp' OR tags.owner = 'bob'", {"Beta", "zeta model", "epsilon_1"}),
    ("NOT tags.team = 'nlp'", ALL_MODELS - {"Beta", "zeta model"}),
    ("creation_timestamp > 0 AND last_updated_timestamp >= 1", ALL_MODELS),
    ("creation_timestamp < 0", set()),
    ("timestamp > 0", ALL_MODELS),
]


@pytest.mark.parametrize(
    ("text", "expected"), MODEL_CASES, ids=[c[0] or "<empty>" for c in MODEL_CASES]
)
def test_registered_model_filter(data: Data, text: str, expected: set[str]) -> None:
    found = search_models(data.api, text)
    assert {m.name for m in found.registered_models} == expected
    assert found.next_page_token == ""


ALL_VERSIONS = {
    (name, i + 1) for name in MODELS for i, v in enumerate([v for v in VERSIONS if v[0] == name])
}


def _versions(*pairs: tuple[str, int]) -> set[tuple[str, int]]:
    return set(pairs)


VERSION_CASES: list[tuple[str, set[tuple[str, int]]]] = [
    ("", ALL_VERSIONS),
    ("name = 'alpha'", _versions(("alpha", 1), ("alpha", 2), ("alpha", 3))),
    ("name ILIKE 'ALPHA' AND version_number = 2", _versions(("alpha", 2))),
    ("version_number > 1", _versions(("alpha", 2), ("alpha", 3), ("gamma-model", 2))),
    ("version = 1", _versions(("alpha", 1), ("Beta", 1), ("gamma-model", 1), ("zeta model", 1))),
    ("version_number IN (2, 3)", _versions(("alpha", 2), ("alpha", 3), ("gamma-model", 2))),
    ("version_number NOT IN (1)", _versions(("alpha", 2), ("alpha", 3), ("gamma-model", 2))),
    ("run_id = '{A}'", _versions(("alpha", 1), ("alpha", 2), ("zeta model", 1))),
    (
        "run_id IN ('{A}', '{B}') AND name != 'alpha'",
        _versions(("Beta", 1), ("gamma-model", 2), ("zeta model", 1)),
    ),
    ("run_id IS NULL", _versions(("alpha", 3), ("gamma-model", 1))),
    ("run_id != '{A}'", _versions(("Beta", 1), ("gamma-model", 2))),
    ("source_path LIKE '%/shared/%'", _versions(("alpha", 3), ("gamma-model", 1))),
    ("source = 'runs:/{B}/bert'", _versions(("Beta", 1))),
    ("source LIKE 'runs:/%'", ALL_VERSIONS - _versions(("alpha", 3), ("gamma-model", 1))),
    ("current_stage = 'Production'", _versions(("alpha", 2), ("Beta", 1))),
    ("current_stage IN ('Staging', 'Archived')", _versions(("alpha", 3), ("gamma-model", 1))),
    ("tags.validated = 'yes'", _versions(("alpha", 2), ("Beta", 1))),
    ("tags.validated IS NOT NULL AND NOT tags.validated = 'yes'", _versions(("alpha", 3))),
    ("tags.note LIKE '%\\%%'", _versions(("gamma-model", 2))),
    (
        "tags.validated IS NULL AND run_id IS NOT NULL",
        _versions(("alpha", 1), ("gamma-model", 2), ("zeta model", 1)),
    ),
    (
        "(name = 'Beta' OR name = 'zeta model') AND version_number <= 1",
        _versions(("Beta", 1), ("zeta model", 1)),
    ),
    ("creation_timestamp > 0 AND last_updated_timestamp > 0", ALL_VERSIONS),
]


@pytest.mark.parametrize(
    ("text", "expected"), VERSION_CASES, ids=[c[0] or "<empty>" for c in VERSION_CASES]
)
def test_model_version_filter(data: Data, text: str, expected: set[tuple[str, int]]) -> None:
    text = text.replace("{A}", data.runs["A"]).replace("{B}", data.runs["B"])
    found = search_versions(data.api, text)
    assert {(v.name, v.version) for v in found.model_versions} == expected
    assert found.next_page_token == ""


# (filter, the words of the message, including the token and its 1-based position)
MALFORMED_MODEL_FILTERS = [
    ("name = ", "expected a value but found end of input at position 8"),
    ("nam = 'x'", "unknown attribute 'nam' at position 1"),
    ("metrics.auc > 1", "unknown entity 'metrics' at position 1"),
    ("name = 'a' AND", "at position 15"),
    ("name == 'a'", "expected a value but found token '=' at position 7"),
    ("tags.team > 'a'", "operator > is not allowed on tags at position 11"),
    ("name > 'a'", "operator > is not allowed on attribute 'name' at position 6"),
    ("creation_timestamp = 'x'", "expected a number for attribute 'creation_timestamp'"),
    ("name LIKE 5", "LIKE needs a quoted string pattern, not '5' at position 11"),
    ("(name = 'a'", "expected ')' but found end of input at position 12"),
    ("name = 'unterminated", "position 8"),
    ("version_number = 1", "unknown attribute 'version_number' at position 1"),
    # A value must be a literal: comparing two fields is not part of the language.
    (
        "last_updated_timestamp >= creation_timestamp",
        "expected a value but found token 'creation_timestamp' at position 27",
    ),
]
MALFORMED_VERSION_FILTERS = [
    ("version_number = 'one'", "expected a number for attribute 'version_number'"),
    (
        "version_number IN ('1')",
        "expected a whole number for attribute 'version_number' but found '1' at position 20",
    ),
    ("version IN (1.5)", "expected a whole number"),
    (
        "version_number LIKE '1%'",
        "operator LIKE is not allowed on attribute 'version_number' at position 16",
    ),
    ("run_id > 'a'", "operator > is not allowed on attribute 'run_id' at position 8"),
    ("stage = 'None'", "unknown attribute 'stage' at position 1"),
    ("params.lr = '1'", "unknown entity 'params' at position 1"),
    ("tags.x = 1", "expected a quoted string for tags but found 1 at position 10"),
    ("source_path LIKE 'a\\'", "ends with a lone backslash"),
    ("name = 'a' OR OR", "expected a field name but found token 'OR' at position 15"),
]


@pytest.mark.parametrize(
    ("text", "words"), MALFORMED_MODEL_FILTERS, ids=[c[0] for c in MALFORMED_MODEL_FILTERS]
)
def test_malformed_registered_model_filter(data: Data, text: str, words: str) -> None:
    assert_error(lambda: search_models(data.api, text), INVALID, "filter", says=words)


@pytest.mark.parametrize(
    ("text", "words"), MALFORMED_VERSION_FILTERS, ids=[c[0] for c in MALFORMED_VERSION_FILTERS]
)
def test_malformed_model_version_filter(data: Data, text: str, words: str) -> None:
    assert_error(lambda: search_versions(data.api, text), INVALID, "filter", says=words)


def test_registered_model_order_and_pages(data: Data) -> None:
    api = data.api
    names = [m.name for m in search_models(api).registered_models]
    assert names == sorted(MODELS)  # default: name ASC (binary order: upper case first)
    desc = search_models(api, order_by=["name DESC"]).registered_models
    assert [m.name for m in desc] == sorted(MODELS, reverse=True)
    by_time = search_models(api, order_by=["timestamp DESC"]).registered_models
    assert [m.name for m in by_time] == list(reversed(MODELS))  # created in dict order
    paged: list[str] = []
    token = ""
    for _ in range(10):
        page = search_models(api, order_by=["creation_timestamp"], page_size=4, page_token=token)
        paged += [m.name for m in page.registered_models]
        token = page.next_page_token
        if not token:
            break
    assert paged == list(MODELS)
    first = search_models(api, page_size=2)
    assert first.next_page_token
    assert_error(
        lambda: search_models(api, "name != 'x'", page_size=2, page_token=first.next_page_token),
        INVALID,
        "page_token",
        says="different query",
    )
    assert_error(lambda: search_models(api, page_token="garbage!"), INVALID, "page_token")
    assert_error(lambda: search_models(api, page_size=1001), INVALID, "page_size", says="1000")
    assert_error(lambda: search_models(api, page_size=-1), INVALID, "page_size")
    assert_error(
        lambda: search_models(api, order_by=["tags.team"]), INVALID, "order_by", says="tag"
    )
    assert_error(lambda: search_models(api, order_by=["size"]), INVALID, "order_by", says="size")
    assert_error(
        lambda: search_models(api, order_by=["name", "name", "name", "name"]),
        INVALID,
        "order_by",
    )
    # A model lists the newest READY version of each stage.
    alpha = search_models(api, "name = 'alpha'").registered_models[0]
    assert [(v.version, v.current_stage) for v in alpha.latest_versions] == [
        (1, mvpb.MODEL_VERSION_STAGE_NONE),
        (3, mvpb.MODEL_VERSION_STAGE_STAGING),
        (2, mvpb.MODEL_VERSION_STAGE_PRODUCTION),
    ]


def test_model_version_order_and_pages(data: Data) -> None:
    api = data.api
    default = [(v.name, v.version) for v in search_versions(api).model_versions]
    assert default == sorted(ALL_VERSIONS, key=lambda p: (p[0], -p[1]))
    ascending = search_versions(api, "name = 'alpha'", order_by=["version_number ASC"])
    assert [v.version for v in ascending.model_versions] == [1, 2, 3]
    newest = search_versions(api, order_by=["creation_timestamp DESC"], page_size=1)
    assert (newest.model_versions[0].name, newest.model_versions[0].version) == ("zeta model", 1)
    paged: list[tuple[str, int]] = []
    token = ""
    while True:
        page = search_versions(api, "version >= 1", page_size=3, page_token=token)
        paged += [(v.name, v.version) for v in page.model_versions]
        token = page.next_page_token
        if not token:
            break
    assert paged == default
    assert_error(lambda: search_versions(api, page_size=50_001), INVALID, "page_size")
    assert_error(
        lambda: search_versions(api, order_by=["run_id"]), INVALID, "order_by", says="run_id"
    )
