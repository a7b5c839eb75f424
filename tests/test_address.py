from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.interfaces import IAddress
from zope.interface.verify import verifyObject

from twisted_hvsock.address import (
    CID_ANY,
    CID_HOST,
    PORT_ANY,
    VSockAddress,
    check_cid,
    check_port,
    local_cid,
    parse_cid,
    parse_port,
)

u32 = st.integers(min_value=0, max_value=2**32 - 1)


def test_address_provides_iaddress_and_prints_as_uri() -> None:
    address = VSockAddress(3, 80)
    assert verifyObject(IAddress, address)
    assert str(address) == "vsock://3:80"


def test_addresses_compare_and_hash_by_value() -> None:
    assert VSockAddress(3, 80) == VSockAddress(3, 80)
    assert VSockAddress(3, 80) != VSockAddress(3, 81)
    assert len({VSockAddress(3, 80), VSockAddress(3, 80)}) == 1


def test_address_is_immutable() -> None:
    address = VSockAddress(3, 80)
    with pytest.raises(AttributeError):
        address.port = 81  # type: ignore[misc]


@given(u32, u32)
def test_str_round_trips_through_from_uri(cid: int, port: int) -> None:
    address = VSockAddress(cid, port)
    assert VSockAddress.from_uri(str(address)) == address


@pytest.mark.parametrize(
    "uri", ["vsock://3", "tcp://3:80", "vsock://3:80:1", "vsock://x:80"]
)
def test_from_uri_rejects_other_forms(uri: str) -> None:
    with pytest.raises(ValueError, match="vsock://|cid|port"):
        VSockAddress.from_uri(uri)


@pytest.mark.parametrize(
    ("text", "cid"),
    [
        ("any", CID_ANY),
        ("ANY", CID_ANY),
        ("hypervisor", 0),
        ("local", 1),
        ("Host", CID_HOST),
        ("3", 3),
    ],
)
def test_parse_cid_accepts_numbers_and_names(text: str, cid: int) -> None:
    assert parse_cid(text) == cid


@pytest.mark.parametrize("text", ["", "-1", "3.0", "0x3", "guest", "4294967296", "٣"])
def test_parse_cid_rejects_other_text_naming_the_option(text: str) -> None:
    with pytest.raises(ValueError, match="^cid "):
        parse_cid(text)


def test_cid_any_is_only_for_listening() -> None:
    assert check_cid(CID_ANY, allow_any=True) == CID_ANY
    with pytest.raises(ValueError, match="only for listening"):
        check_cid(CID_ANY, allow_any=False)
    with pytest.raises(ValueError, match="only for listening"):
        parse_cid("any", allow_any=False)


@pytest.mark.parametrize("port", [-1, 2**32 - 1, 2**32, True, "80", 1.0])
def test_check_port_rejects_what_is_not_a_user_port(port: object) -> None:
    with pytest.raises(
        ValueError, match="^port must be a whole number from 0 to 4294967294"
    ):
        check_port(port)


def test_parse_port_accepts_port_any_only_when_asked() -> None:
    assert parse_port("4294967295", allow_any=True) == PORT_ANY
    with pytest.raises(ValueError, match="^port "):
        parse_port("4294967295")


def test_local_cid_names_the_missing_device(tmp_path: object) -> None:
    with pytest.raises(FileNotFoundError, match="modprobe vsock"):
        local_cid("/nonexistent/vsock")
