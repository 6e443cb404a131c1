"""Where a customer's bucket lives: (vendor, region) of `storageConfig` → an S3-compatible endpoint.

The numbers are the spec's opaque selectors (§5.4). A server may override every vendor and region
with one endpoint (`--s3-endpoint` / `CLOUDREC_S3_ENDPOINT`: a local S3-compatible server in tests
and development); without it, only vendors with a public S3-compatible API are reachable.
"""

from __future__ import annotations

from dataclasses import dataclass

AWS_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-central-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2",
    "sa-east-1", "ca-central-1", "ap-south-1", "cn-north-1", "cn-northwest-1", "us-gov-west-1",
    "af-south-1", "ap-east-1", "ap-northeast-3", "eu-north-1", "me-south-1", "us-gov-east-1",
    "ap-southeast-3", "eu-south-1",
)
ALIYUN_REGIONS = (
    "cn-hangzhou", "cn-shanghai", "cn-qingdao", "cn-beijing", "cn-zhangjiakou", "cn-huhehaote",
    "cn-shenzhen", "cn-hongkong", "us-west-1", "us-east-1", "ap-southeast-1", "ap-southeast-2",
    "ap-southeast-3", "ap-southeast-5", "ap-northeast-1", "ap-south-1", "eu-central-1",
    "eu-west-1", "me-east-1", "ap-southeast-6", "cn-heyuan", "cn-guangzhou", "cn-chengdu",
    "cn-nanjing", "cn-fuzhou", "cn-wulanchabu", "cn-northeast-2", "cn-southeast-7",
)
TENCENT_REGIONS = (
    "ap-beijing-1", "ap-beijing", "ap-shanghai", "ap-guangzhou", "ap-chengdu", "ap-chongqing",
    "ap-shenzhen-fsi", "ap-shanghai-fsi", "ap-beijing-fsi", "ap-hongkong", "ap-singapore",
    "ap-mumbai", "ap-seoul", "ap-bangkok", "ap-tokyo", "na-siliconvalley", "na-ashburn",
    "na-toronto", "eu-frankfurt", "eu-moscow",
)
QINIU_REGIONS = ("cn-east-1", "cn-north-1", "cn-south-1", "us-north-1", "ap-southeast-1")

# vendor -> (region names, endpoint template)
PUBLIC_VENDORS: dict[int, tuple[tuple[str, ...], str]] = {
    0: (QINIU_REGIONS, "https://s3-{region}.qiniucs.com"),
    1: (AWS_REGIONS, "https://s3.{region}.amazonaws.com"),
    2: (ALIYUN_REGIONS, "https://oss-{region}.aliyuncs.com"),
    3: (TENCENT_REGIONS, "https://cos.{region}.myqcloud.com"),
}


class UnreachableStorage(ValueError):
    """This cloudrec cannot reach the vendor/region a request names."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    region: str  # the region name requests are signed for


def resolve(vendor: int, region: int, override: str | None = None) -> Endpoint:
    """The endpoint of (vendor, region); `override` maps every pair to one configured URL."""
    if override:
        names = PUBLIC_VENDORS.get(vendor, (AWS_REGIONS, ""))[0]
        return Endpoint(override, names[region] if region < len(names) else "us-east-1")
    if vendor not in PUBLIC_VENDORS:
        raise UnreachableStorage(
            f"storage vendor {vendor} is not reachable from this cloudrec "
            "(no S3-compatible endpoint is configured for it)")
    names, template = PUBLIC_VENDORS[vendor]
    if region >= len(names):
        raise UnreachableStorage(f"region {region} of storage vendor {vendor} is not reachable "
                                 "from this cloudrec")
    return Endpoint(template.format(region=names[region]), names[region])
