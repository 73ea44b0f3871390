"""The auth store on every backend: users, hashed tokens, permissions and what happens
to them when their resource goes away."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trackway.auth import tokens
from trackway.auth.admin import AdminService
from trackway.auth.entities import ADMIN, USER, Permission
from trackway.errors import AlreadyExists, FailedPrecondition, NotFound
from trackway.registry.service import RegistryService
from trackway.store.auth_store import SqlAuthStore
from trackway.store.registry_store import SqlRegistryStore
from trackway.store.tracking_store import SqlTrackingStore
from trackway.store.writes import now_ms


@pytest.fixture
def auth(store: SqlTrackingStore) -> Iterator[SqlAuthStore]:
    yield SqlAuthStore.from_tracking(store)


def test_tokens_are_stored_hashed_and_only_live_ones_authenticate(
    auth: SqlAuthStore, store: SqlTrackingStore
) -> None:
    admin = AdminService(auth)
    admin.create_user("ada", ADMIN)
    token, secret = admin.create_token("ada", "laptop")
    with store.engine.connect() as conn:
        stored = [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM api_tokens")]
    assert secret not in repr(stored)
    assert tokens.hash_secret(secret) in repr(stored)
    found = auth.user_of_token(tokens.hash_secret(secret), now_ms())
    assert found is not None and found[0].name == "ada"
    admin.revoke_token(token.token_id)
    assert auth.user_of_token(tokens.hash_secret(secret), now_ms()) is None
    _, brief = admin.create_token("ada", ttl_seconds=60)
    assert auth.user_of_token(tokens.hash_secret(brief), now_ms()) is not None
    assert auth.user_of_token(tokens.hash_secret(brief), now_ms() + 61_000) is None


def test_users_are_unique_and_an_admin_always_remains(auth: SqlAuthStore) -> None:
    admin = AdminService(auth)
    admin.create_user("ada", ADMIN)
    with pytest.raises(AlreadyExists):
        admin.create_user("ada")
    with pytest.raises(FailedPrecondition):
        admin.update_user("ada", USER)
    with pytest.raises(FailedPrecondition):
        admin.delete_user("ada")
    admin.create_user("bob", ADMIN)
    admin.delete_user("ada")
    assert [u.name for u in admin.list_users().items] == ["bob"]


def test_listings_page_by_name(auth: SqlAuthStore) -> None:
    admin = AdminService(auth)
    for i in range(7):
        admin.create_user(f"u{i}")
    seen, token = [], ""
    while True:
        page = admin.list_users(page_size=3, page_token=token)
        seen += [u.name for u in page.items]
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"u{i}" for i in range(7)]
    for _ in range(5):
        admin.create_token("u0")
    first = admin.list_tokens("u0", page_size=2)
    rest = admin.list_tokens("u0", page_size=10, page_token=first.next_page_token)
    assert len({t.token_id for t in first.items + rest.items}) == 5


def test_permissions_follow_renames_and_go_with_their_resource(
    auth: SqlAuthStore, store: SqlTrackingStore
) -> None:
    admin = AdminService(auth)
    bob = admin.create_user("bob")
    eid = store.create_experiment("e", "", []).experiment_id
    registry = RegistryService(SqlRegistryStore.from_tracking(store), store)
    registry.create_registered_model("m")
    admin.grant_experiment(eid, "bob", Permission.EDIT)
    admin.grant_model("m", "bob", Permission.READ)
    admin.grant_model("m", "bob", Permission.MANAGE)  # replaces
    assert auth.experiment_level(bob.user_id, int(eid)) is Permission.EDIT
    registry.rename_registered_model("m", "m2")
    assert [(g.resource, g.permission) for g in admin.list_model("m2").items] == [
        ("m2", Permission.MANAGE)
    ]
    registry.delete_registered_model("m2")
    registry.create_registered_model("m2")
    assert admin.list_model("m2").items == []  # a new model never inherits grants
    store.delete_experiment(int(eid))
    store.purge_experiment(int(eid))
    assert auth.experiment_level(bob.user_id, int(eid)) is Permission.NONE
    with pytest.raises(NotFound):
        admin.grant_experiment(eid, "bob", Permission.READ)
    with pytest.raises(NotFound):
        admin.revoke_model("m2", "bob")


def test_a_creator_claims_only_what_nobody_holds(
    auth: SqlAuthStore, store: SqlTrackingStore
) -> None:
    admin = AdminService(auth)
    ada, bob = admin.create_user("ada"), admin.create_user("bob")
    eid = int(store.create_experiment("e", "", []).experiment_id)
    auth.claim_experiment(eid, ada.user_id)
    auth.claim_experiment(eid, bob.user_id)  # a replayed create by someone else
    assert auth.experiment_level(ada.user_id, eid) is Permission.MANAGE
    assert auth.experiment_level(bob.user_id, eid) is Permission.NONE


def test_deleting_a_user_takes_their_tokens_and_permissions(
    auth: SqlAuthStore, store: SqlTrackingStore
) -> None:
    admin = AdminService(auth)
    admin.create_user("bob")
    _, secret = admin.create_token("bob")
    eid = store.create_experiment("e", "", []).experiment_id
    admin.grant_experiment(eid, "bob", Permission.READ)
    admin.delete_user("bob")
    assert auth.user_of_token(tokens.hash_secret(secret), now_ms()) is None
    assert admin.list_experiment(eid).items == []
    admin.create_user("bob")  # the name is free again, with nothing attached
    assert admin.list_experiment(eid).items == []
