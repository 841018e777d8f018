"""ISO 4217 currency codes, for the ``currency`` of a conversion's value.

The active alphabetic codes of ISO 4217 (list one, as published by SIX, 2025), minus
XXX ("no currency") and XTS (reserved for testing). Funds codes (e.g. CLF, USN) and
the precious metals stay: they are valid codes a shop could use. A code withdrawn by
ISO (e.g. HRK since Croatia adopted the euro) is refused with a hint.
"""

from __future__ import annotations

_CODES = """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK
    DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF
    IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP
    LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD
    SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
    TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB
    XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG
"""
ISO_4217 = frozenset(_CODES.split())

#: Codes people still meet that ISO withdrew, with what replaced them.
WITHDRAWN = {
    "HRK": "EUR", "LTL": "EUR", "LVL": "EUR", "EEK": "EUR", "SKK": "EUR", "CYP": "EUR",
    "MTL": "EUR", "SIT": "EUR", "BGL": "BGN", "VEF": "VES", "VEB": "VES", "MRO": "MRU",
    "STD": "STN", "SLL": "SLE", "ZWL": "ZWG", "BYR": "BYN", "CUC": "CUP", "ANG": "XCG",
    "TRL": "TRY", "GHC": "GHS", "ZMK": "ZMW", "MZM": "MZN", "RUR": "RUB", "SDD": "SDG",
}  # fmt: skip


def check_currency(value: str) -> str:
    """The upper-case code, or ValueError saying what is wrong (in words)."""
    code = value.strip().upper()
    if code in ISO_4217:
        return code
    if code in WITHDRAWN:
        raise ValueError(f"{code} is no longer an ISO 4217 currency; use {WITHDRAWN[code]}")
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"{value!r} is not a three-letter ISO 4217 code such as EUR or USD")
    raise ValueError(f"{code} is not an ISO 4217 currency code")
