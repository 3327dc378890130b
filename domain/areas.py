"""Area codes like CGK10000: a three-letter city code and a five-digit zone.

Public tracking shows the city only, never the zone or an address.
"""

import re

CITIES: dict[str, str] = {
    "CGK": "JAKARTA",
    "BDO": "BANDUNG",
    "SUB": "SURABAYA",
    "SRG": "SEMARANG",
    "JOG": "YOGYAKARTA",
    "SOC": "SOLO",
    "MLG": "MALANG",
    "DPS": "DENPASAR",
    "MES": "MEDAN",
    "PLM": "PALEMBANG",
    "PDG": "PADANG",
    "PKU": "PEKANBARU",
    "BTH": "BATAM",
    "TKG": "BANDAR LAMPUNG",
    "BPN": "BALIKPAPAN",
    "BDJ": "BANJARMASIN",
    "PNK": "PONTIANAK",
    "UPG": "MAKASSAR",
    "MDC": "MANADO",
    "AMQ": "AMBON",
    "DJJ": "JAYAPURA",
    "KOE": "KUPANG",
    "AMI": "MATARAM",
    "BTJ": "BANDA ACEH",
}

AREA_PATTERN = re.compile(r"[A-Z]{3}[0-9]{5}")


def city_of(area: str) -> str:
    """The city name of a valid area code; KeyError for an unknown city code."""
    return CITIES[area[:3]]


def is_known_area(area: str) -> bool:
    return AREA_PATTERN.fullmatch(area) is not None and area[:3] in CITIES
