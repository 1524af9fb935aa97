"""Every way a join fails says what is wrong, and leaves nothing on disk."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from edgeplane.api.errors import APIError
from edgeplane.client.rest import RESTClient
from edgeplane.cloud.process import CloudProcess, free_port
from edgeplane.edge.identity import JoinError, JoinOptions, join
from edgeplane.pki.bootstraptoken import TOKEN_NAMESPACE, BootstrapToken, JoinToken
from tests.integration.edge.join.conftest import MakeToken, start_cloud, token_maker, url_of


async def _refused(options: JoinOptions, match: str) -> None:
    with pytest.raises(JoinError, match=match):
        await join(options)
    assert not options.data_dir.exists(), "a failed join must leave nothing behind"


async def test_expired_token(cloud: CloudProcess, make_token: MakeToken, tmp_path: Path) -> None:
    token = await make_token(ttl=timedelta(seconds=-60))
    await _refused(JoinOptions(url_of(cloud), token, tmp_path / "edge", node_name="n1"),
                   r"bootstrap token [a-z0-9]{6} expired at .*edgeplane token create")


async def test_unknown_token_id_and_wrong_secret(cloud: CloudProcess, make_token: MakeToken, tmp_path: Path) -> None:
    real = JoinToken.parse(await make_token())
    unknown = JoinToken(real.ca_hash, BootstrapToken.generate(None))
    wrong_secret = JoinToken(real.ca_hash, BootstrapToken(real.token.token_id, "x" * 16))
    for token in (unknown, wrong_secret):
        await _refused(JoinOptions(url_of(cloud), str(token), tmp_path / "edge", node_name="n1"),
                       "refused the join: bootstrap token is not valid: unknown token id or wrong secret")


async def test_deleted_token_no_longer_joins(
    cloud: CloudProcess, admin: RESTClient, make_token: MakeToken, tmp_path: Path
) -> None:
    token = await make_token()
    await admin.delete("v1", "secrets", JoinToken.parse(token).token.secret_name, TOKEN_NAMESPACE)
    await _refused(JoinOptions(url_of(cloud), token, tmp_path / "edge", node_name="n1"), "not valid")


async def test_ca_hash_of_another_cloud(cloud: CloudProcess, tmp_path: Path) -> None:
    other = await start_cloud(tmp_path / "other-cloud")
    try:
        token_of_other = await token_maker(other)()
    finally:
        await other.stop()
    await _refused(JoinOptions(url_of(cloud), token_of_other, tmp_path / "edge", node_name="n1"),
                   "does not match the join token .* different cloud")


async def test_unreachable_server_is_named(tmp_path: Path) -> None:
    url = f"https://127.0.0.1:{free_port()}"
    token = "K10" + "a" * 64 + "::abcdef.0123456789abcdef"
    await _refused(JoinOptions(url, token, tmp_path / "edge", node_name="n1"),
                   f"cannot reach the cloud at {url}")


async def test_data_dir_joined_to_another_cloud(cloud: CloudProcess, make_token: MakeToken, tmp_path: Path) -> None:
    other = await start_cloud(tmp_path / "other-cloud")
    try:
        await join(JoinOptions(url_of(other), await token_maker(other)(), tmp_path / "edge", node_name="n1"))
    finally:
        await other.stop()
    before = (tmp_path / "edge" / "pki" / "node.crt").read_bytes()
    with pytest.raises(JoinError, match=f"already joined to another cloud \\({url_of(other)}.*edgeplane reset"):
        await join(JoinOptions(url_of(cloud), await make_token(), tmp_path / "edge", node_name="n1"))
    assert (tmp_path / "edge" / "pki" / "node.crt").read_bytes() == before


async def test_data_dir_joined_under_another_name(cloud: CloudProcess, make_token: MakeToken, tmp_path: Path) -> None:
    await join(JoinOptions(url_of(cloud), await make_token(), tmp_path / "edge", node_name="n1"))
    with pytest.raises(JoinError, match="already joined to this cloud as node 'n1', not 'n2'"):
        await join(JoinOptions(url_of(cloud), await make_token(), tmp_path / "edge", node_name="n2"))


@pytest.mark.parametrize(("token", "node", "match"), [
    ("abcdef.0123456789abcdef", "n1", "--token: join token must look like K10"),
    ("K10" + "a" * 64 + "::abcdef.0123456789abcdef", "Not_A_Name", "node name 'Not_A_Name' is not valid"),
])
async def test_bad_input_fails_before_any_network(token: str, node: str, match: str, tmp_path: Path) -> None:
    await _refused(JoinOptions("https://127.0.0.1:1", token, tmp_path / "edge", node_name=node), match)


async def test_join_endpoint_rejects_bad_requests(cloud: CloudProcess, make_token: MakeToken) -> None:
    token = JoinToken.parse(await make_token())
    ca_pem = (cloud.config.data_dir / "pki" / "ca.crt").read_bytes()
    async with RESTClient(url_of(cloud), ca_pem=ca_pem, token=str(token.token)) as client:
        cases = [
            ({"csr": "x"}, 400, "nodeName: Required value"),
            ({"nodeName": "Bad_Name", "csr": "x"}, 400, "nodeName: Invalid value: 'Bad_Name'"),
            ({"nodeName": "n1"}, 400, "csr: Required value"),
            ({"nodeName": "n1", "csr": "garbage"}, 400, "csr: not a PEM certificate signing request"),
        ]
        for body, code, message in cases:
            with pytest.raises(APIError) as err:
                await client.request("POST", "/edgeplane/v1/join", body=body)
            assert (err.value.code, message in err.value.message) == (code, True), err.value.message
    async with RESTClient(url_of(cloud), ca_pem=ca_pem, token="abcdef.0123456789abcdef") as client:
        with pytest.raises(APIError) as err:
            await client.request("POST", "/edgeplane/v1/join", body={"nodeName": "n1", "csr": "x"})
        assert err.value.code == 401
