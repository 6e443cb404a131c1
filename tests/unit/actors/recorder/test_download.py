"""Fetching layout images: the SSRF guard, the size cap, redirects and the deadline, against a
real HTTP server on loopback that each test allows explicitly (or not)."""

from __future__ import annotations

import ipaddress

import pytest

from cloudrec.actors.recorder.download import MAX_BYTES, ImageFetchFailed, Limits, download
from cloudrec.actors.recorder.hosts import HostPolicy, RefusedHost, is_public, parse_networks

from .stills import image_server, redirect, serve, slow, solid

LOOPBACK = HostPolicy(parse_networks("127.0.0.0/8"))
PICTURE = solid((200, 30, 30))


def test_a_loopback_server_the_operator_allows_serves_the_image() -> None:
    with image_server({"/a.jpg": serve(PICTURE)}) as base:
        assert download(f"{base}/a.jpg", LOOPBACK) == PICTURE


def test_loopback_is_refused_by_default() -> None:
    with image_server({"/a.jpg": serve(PICTURE)}) as base:
        with pytest.raises(ImageFetchFailed, match="loopback, link-local or private"):
            download(f"{base}/a.jpg", HostPolicy())


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
                                     "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
                                     "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::"])
def test_private_and_special_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    with pytest.raises(RefusedHost):
        HostPolicy(resolver=lambda host, port: [address]).address_of("images.example", 80)


def test_public_addresses_pass_and_a_name_is_judged_by_every_address() -> None:
    assert is_public(ipaddress.ip_address("93.184.216.34"))
    assert HostPolicy(resolver=lambda h, p: ["93.184.216.34"]).address_of("e.example", 80) \
        == "93.184.216.34"
    rebinding = HostPolicy(resolver=lambda h, p: ["93.184.216.34", "127.0.0.1"])
    with pytest.raises(RefusedHost):
        rebinding.address_of("e.example", 80)


def test_an_image_over_six_megabytes_is_refused_while_streaming() -> None:
    big = PICTURE + bytes(MAX_BYTES)
    headerless = lambda: (200, {"Content-Length": "", "Connection": "close"}, big)  # noqa: E731
    routes = {"/big.jpg": serve(big), "/chunked.jpg": headerless}
    with image_server(routes) as base:
        with pytest.raises(ImageFetchFailed, match="larger than"):
            download(f"{base}/big.jpg", LOOPBACK)  # said so by its Content-Length
        with pytest.raises(ImageFetchFailed, match="larger than"):
            download(f"{base}/chunked.jpg", LOOPBACK)  # found while reading


def test_exactly_the_cap_is_accepted() -> None:
    with image_server({"/a.jpg": serve(PICTURE)}) as base:
        assert download(f"{base}/a.jpg", LOOPBACK, Limits(max_bytes=len(PICTURE))) == PICTURE


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/a.jpg",
                                    "gopher://127.0.0.1:70/_x"])
def test_a_redirect_to_another_scheme_is_refused(target: str) -> None:
    with image_server({"/r.jpg": redirect(target)}) as base:
        with pytest.raises(ImageFetchFailed, match="not an http"):
            download(f"{base}/r.jpg", LOOPBACK)


def test_a_redirect_to_a_private_address_is_refused() -> None:
    """The loopback server is allowed; where it redirects to (cloud metadata) is not."""
    with image_server({"/r.jpg": redirect("http://169.254.169.254/latest/meta-data/")}) as base:
        with pytest.raises(ImageFetchFailed, match="169.254.169.254"):
            download(f"{base}/r.jpg", LOOPBACK)


def test_redirects_within_allowed_hosts_are_followed_up_to_a_limit() -> None:
    routes = {"/a.jpg": serve(PICTURE), "/r1": redirect("/r2", 301), "/r2": redirect("/a.jpg"),
              "/loop": redirect("/loop")}
    with image_server(routes) as base:
        assert download(f"{base}/r1", LOOPBACK) == PICTURE
        with pytest.raises(ImageFetchFailed, match="redirects"):
            download(f"{base}/loop", LOOPBACK)


def test_a_slow_server_times_out() -> None:
    with image_server({"/slow.jpg": slow(PICTURE, 3.0)}) as base:
        with pytest.raises(ImageFetchFailed, match="timed out"):
            download(f"{base}/slow.jpg", LOOPBACK, Limits(timeout_s=0.5))


def test_an_error_status_and_an_unreachable_host_fail() -> None:
    with image_server({}) as base:
        with pytest.raises(ImageFetchFailed, match="HTTP 404"):
            download(f"{base}/missing.jpg", LOOPBACK)
        port = base.rsplit(":", 1)[1]
    with pytest.raises(ImageFetchFailed):
        download(f"http://127.0.0.1:{port}/gone.jpg", LOOPBACK)  # nobody listens any more


def test_the_operator_setting_is_read_from_the_environment() -> None:
    policy = HostPolicy.from_env({"CLOUDREC_ALLOW_PRIVATE_IMAGE_HOSTS": "127.0.0.0/8, ::1/128"})
    assert policy.permits(ipaddress.ip_address("127.0.0.1"))
    assert policy.permits(ipaddress.ip_address("::1"))
    assert not policy.permits(ipaddress.ip_address("10.0.0.1"))
    assert HostPolicy.from_env({}).allowed == ()
