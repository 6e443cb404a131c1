"""Where a bucket lives, keys that stay in their prefix, and keys that never print."""

from __future__ import annotations

import pickle
import re

import pytest

from cloudrec.actors.recorder.config import RecordingConfig
from cloudrec.actors.uploader.destination import Credentials, Destination
from cloudrec.actors.uploader.endpoints import UnreachableStorage, resolve
from cloudrec.api.errors import ApiError
from cloudrec.api.storage import Storage
from cloudrec.config import StoragePlan

SECRET, ACCESS = "s3cr3t-Value/with+chars", "AKIAEXAMPLEKEY"


def destination(prefix: str = "rec/room") -> Destination:
    return Destination("http://127.0.0.1:1", "us-east-1", "bucket",
                       Credentials(ACCESS, SECRET), prefix)


def test_public_vendors_map_to_their_endpoint_and_region() -> None:
    assert resolve(1, 0) .url == "https://s3.us-east-1.amazonaws.com"
    assert resolve(1, 7).region == "eu-central-1"
    assert resolve(2, 1).url == "https://oss-cn-shanghai.aliyuncs.com"
    assert resolve(3, 2).url == "https://cos.ap-shanghai.myqcloud.com"


def test_a_configured_endpoint_serves_every_vendor() -> None:
    assert resolve(11, 3, "http://127.0.0.1:9310").url == "http://127.0.0.1:9310"
    assert resolve(1, 4, "http://127.0.0.1:9310").region == "eu-west-1"


@pytest.mark.parametrize(("vendor", "region"), [(5, 0), (11, 0), (1, 26), (4, 0)])
def test_an_unreachable_vendor_or_region_is_a_clear_error(vendor: int, region: int) -> None:
    with pytest.raises(UnreachableStorage, match="not reachable"):
        resolve(vendor, region)


def test_the_plan_answers_code_2_for_an_unreachable_vendor() -> None:
    storage = Storage.model_validate({"vendor": 5, "region": 0, "bucket": "b",
                                      "accessKey": ACCESS, "secretKey": SECRET})
    with pytest.raises(ApiError) as raised:
        StoragePlan(s3=True).destination(storage)
    assert raised.value.code == 2 and "vendor 5" in raised.value.reason


def test_the_plan_builds_the_destination_with_prefix_and_options() -> None:
    storage = Storage.model_validate({
        "vendor": 1, "region": 3, "bucket": "b", "accessKey": ACCESS, "secretKey": SECRET,
        "fileNamePrefix": ["rec", "room"], "extensionParams": {"sse": "aes256", "tag": "a=b"}})
    made = StoragePlan(s3=True, endpoint="http://h:1").destination(storage)
    assert made is not None and made.prefix == "rec/room" and made.region == "us-west-2"
    assert (made.sse, made.tag, made.credentials.secret_key) == ("aes256", "a=b", SECRET)
    assert StoragePlan().destination(storage) is None  # file storage: the server's directory


def test_keys_never_leave_their_prefix() -> None:
    inside = destination()
    assert inside.within_prefix("rec/room/sid_c.ts")
    for key in ("rec/room/../x.ts", "/rec/room/a.ts", "other/a.ts", "rec/room//a.ts",
                "rec/roomX/a.ts", "rec/room/./a.ts"):
        assert not inside.within_prefix(key), key
    assert destination("").within_prefix("sid_c.ts")


def test_keys_never_print_and_stay_out_of_the_recorder_config() -> None:
    target = destination()
    config = RecordingConfig(sid="s", appid="a", cname="c", recorder_uid=1, generation=1,
                             workdir=__import__("pathlib").Path("/tmp"), storage=target)
    for text in (repr(target), str(target), target.describe(), repr(config),
                 repr(target.credentials), str(target.credentials)):
        assert SECRET not in text and ACCESS not in text
    assert pickle.loads(pickle.dumps(target)) == target  # reaches the uploader actor intact
    assert target.credentials.redact(f"bad {SECRET} and {ACCESS}") == "bad *** and ***"


def test_only_the_s3_module_imports_boto3() -> None:
    root = __import__("pathlib").Path(__file__).resolve().parents[4]
    imports = re.compile(r"^\s*(import|from)\s+(boto3|botocore)\b", re.M)
    importers = sorted(
        str(path.relative_to(root))
        for folder in ("cloudrec", "actors", "events", "projections", "cluster")
        for path in (root / folder).rglob("*.py") if imports.search(path.read_text()))
    assert importers == ["actors/uploader/s3.py"]
