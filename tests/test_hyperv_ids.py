from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twisted_hvsock.hyperv_ids import (
    SOCKADDR_HV_SIZE,
    VM_CHILDREN,
    VM_LOOPBACK,
    VM_PARENT,
    VM_WILDCARD,
    HyperVAddress,
    pack_sockaddr_hv,
    parse_service_id,
    parse_vm_id,
    port_for_service_id,
    service_id_for_port,
    unpack_sockaddr_hv,
)

VECTORS = [
    (80, "00000050-facb-11e6-bd58-64006a7986d3"),
    (255, "000000ff-facb-11e6-bd58-64006a7986d3"),
    (22099, "00005653-facb-11e6-bd58-64006a7986d3"),
    (6000, "00001770-facb-11e6-bd58-64006a7986d3"),
]


@pytest.mark.parametrize(("port", "guid"), VECTORS)
def test_ports_map_to_template_service_ids_and_back(port: int, guid: str) -> None:
    assert service_id_for_port(port) == uuid.UUID(guid)
    assert port_for_service_id(uuid.UUID(guid.upper())) == port


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_port_round_trips(port: int) -> None:
    assert port_for_service_id(service_id_for_port(port)) == port


@pytest.mark.parametrize(
    "guid",
    [str(VM_PARENT), str(VM_WILDCARD), "3049197c-9a4e-4fbf-9367-97f792f16994"],
)
def test_service_ids_outside_the_template_are_rejected(guid: str) -> None:
    with pytest.raises(ValueError, match="is not a Linux vsock port"):
        port_for_service_id(uuid.UUID(guid))


@pytest.mark.parametrize(
    ("text", "vm_id"),
    [
        ("parent", VM_PARENT),
        ("LOOPBACK", VM_LOOPBACK),
        ("children", VM_CHILDREN),
        ("zero", VM_WILDCARD),
        ("wildcard", VM_WILDCARD),
        ("{A42E7CDA-D03F-480C-9CC2-A4DE20ABB878}", VM_PARENT),
    ],
)
def test_vm_ids_by_name_or_guid(text: str, vm_id: uuid.UUID) -> None:
    assert parse_vm_id(text) == vm_id


def test_services_by_guid_or_port() -> None:
    assert parse_service_id("80") == service_id_for_port(80)
    assert parse_service_id(
        "00000050-FACB-11E6-BD58-64006A7986D3"
    ) == service_id_for_port(80)
    with pytest.raises(
        ValueError, match="service must be a GUID or a decimal vsock port"
    ):
        parse_service_id("http")
    with pytest.raises(ValueError, match="from 0 to 4294967295"):
        parse_service_id("4294967296")


def test_address_prints_as_uri() -> None:
    address = HyperVAddress(VM_PARENT, service_id_for_port(80))
    assert str(address) == (
        "hvsock://a42e7cda-d03f-480c-9cc2-a4de20abb878/00000050-facb-11e6-bd58-64006a7986d3"
    )


def test_sockaddr_hv_has_windows_layout_byte_for_byte() -> None:
    # Family 34 and Reserved 0 as little-endian u16s, then each GUID with its
    # first three fields little-endian (Windows' GUID layout).
    address = HyperVAddress(
        uuid.UUID("a42e7cda-d03f-480c-9cc2-a4de20abb878"),
        uuid.UUID("00000050-facb-11e6-bd58-64006a7986d3"),
    )
    expected = bytes.fromhex(
        "22000000da7c2ea43fd00c489cc2a4de20abb87850000000cbfae611bd5864006a7986d3"
    )
    assert pack_sockaddr_hv(address) == expected
    assert SOCKADDR_HV_SIZE == 36
    assert unpack_sockaddr_hv(expected) == address


@given(st.uuids(), st.uuids())
def test_sockaddr_hv_round_trips(vm_id: uuid.UUID, service_id: uuid.UUID) -> None:
    address = HyperVAddress(vm_id, service_id)
    assert unpack_sockaddr_hv(pack_sockaddr_hv(address)) == address


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x22\x00" + bytes(33), "a SOCKADDR_HV is 36 bytes, got 35"),
        (b"\x28\x00" + bytes(34), r"expected family AF_HYPERV \(34\), got 40"),
    ],
)
def test_malformed_sockaddr_hv_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        unpack_sockaddr_hv(data)


@pytest.mark.parametrize(
    "text",
    [
        "hvsock://parent/80",
        f"hvsock://{VM_CHILDREN}/3049197c-9a4e-4fbf-9367-97f792f16994",
    ],
)
def test_addresses_round_trip_through_their_uri(text: str) -> None:
    address = HyperVAddress.from_uri(text)
    assert HyperVAddress.from_uri(str(address)) == address


@pytest.mark.parametrize("text", ["vsock://2:80", "hvsock://parent", "hvsock://x/80"])
def test_malformed_address_uris_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        HyperVAddress.from_uri(text)
