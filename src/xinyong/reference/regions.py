"""GB/T 2260 county-level region codes, read from python-stdnum's database."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from stdnum import numdb

# Mainland provinces with the one-character abbreviations used in court case numbers
# ("(2021)京0101执1234号"); Taiwan, Hong Kong and Macau issue neither RICs nor USCCs here.
PROVINCE_ABBR = {
    "11": "京", "12": "津", "13": "冀", "14": "晋", "15": "蒙", "21": "辽", "22": "吉",
    "23": "黑", "31": "沪", "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣",
    "37": "鲁", "41": "豫", "42": "鄂", "43": "湘", "44": "粤", "45": "桂", "46": "琼",
    "50": "渝", "51": "川", "52": "黔", "53": "滇", "54": "藏", "61": "陕", "62": "甘",
    "63": "青", "64": "宁", "65": "新",
}  # fmt: skip

# Placeholder entries that are not counties ("municipal districts", "counties" headings).
_NOT_COUNTIES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    """6-digit GB/T 2260 code."""
    name: str
    province: str
    since: int
    """First year the current name is valid (0: always); RIC birth years must not precede it."""

    @property
    def urban(self) -> bool:
        """Districts (区) are urban; counties, banners and county-level cities mostly not."""
        return self.name.endswith(("区", "區"))


def _current(variants: str) -> tuple[str, int] | None:
    """The variant still valid today, as (name, first year), or None if the code was retired.

    stdnum writes history as ``[1986-]房山区`` or ``[-1991]东郊区,[1992-]东丽区``.
    """
    for variant in variants.split(","):
        if not variant.startswith("["):
            return variant, 0
        span, name = variant[1:].split("]", 1)
        first, last = span.split("-", 1)
        if not last:
            return name, int(first) if first else 0
    return None


@cache
def county_regions() -> tuple[Region, ...]:
    """Every currently valid county-level code, sorted by code (fixed order for seeding)."""
    out: list[Region] = []
    for _, low, high, props, children in numdb.get("cn/loc").prefixes:
        if low != high or low not in PROVINCE_ABBR:
            continue
        province = props.get("province", "")
        for _, clow, chigh, cprops, _ in children:
            if clow != chigh or len(clow) != 4 or clow.endswith("00"):
                continue
            current = _current(cprops.get("county", ""))
            if current is None or current[0] in _NOT_COUNTIES:
                continue
            out.append(Region(low + clow, current[0], province, current[1]))
    out.sort(key=lambda r: r.code)
    return tuple(out)
