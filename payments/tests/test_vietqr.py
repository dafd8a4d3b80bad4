"""The VietQR payload against the EMVCo rules, read back by a TLV parser
and a bitwise CRC16-CCITT written here; payment references; amounts in
Vietnamese words."""

import pytest

from payments.references import check_digits, reference_for, reference_in_memo, reference_valid
from payments.vietqr import vietqr_payload
from payments.words import vnd_in_words


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE bit by bit (poly 0x1021, init 0xFFFF), as EMVCo
    QRCPS 4.7.3 specifies (ISO/IEC 13239)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def tlv(text: str) -> dict[str, str]:
    """ID (2 digits), length (2 digits), value; every byte accounted for."""
    fields, i = {}, 0
    while i < len(text):
        tag, length = text[i : i + 2], int(text[i + 2 : i + 4])
        fields[tag] = text[i + 4 : i + 4 + length]
        assert len(fields[tag]) == length
        i += 4 + length
    assert i == len(text)
    return fields


def test_the_crc_of_this_implementation_is_the_standard_one():
    assert crc16_ccitt(b"123456789") == 0x29B1  # the catalogued check value of CRC-16/CCITT-FALSE


def test_the_payload_follows_emvco_and_napas():
    payload = vietqr_payload(amount_vnd=50_000, purpose="LP000000012320 HS 000.00.13.H04-260715-0001",
                             bank_bin="970418", account="1234567890")  # fmt: skip
    assert payload.isascii()
    root = tlv(payload)
    assert list(root)[0] == "00" and list(root)[-1] == "63"
    assert root["00"] == "01"
    assert root["01"] == "12"  # dynamic: it carries an amount
    napas = tlv(root["38"])
    assert napas["00"] == "A000000727"
    assert tlv(napas["01"]) == {"00": "970418", "01": "1234567890"}
    assert napas["02"] == "QRIBFTTA"  # NAPAS 247 transfer to an account
    assert root["53"] == "704" and root["54"] == "50000" and root["58"] == "VN"
    assert tlv(root["62"]) == {"08": "LP000000012320 HS 000.00.13.H04-260715-0001"}
    assert root["63"] == f"{crc16_ccitt(payload[:-4].encode('ascii')):04X}"


def test_values_the_package_would_get_wrong_are_refused():
    with pytest.raises(ValueError):
        vietqr_payload(amount_vnd=50_000, purpose="Nộp phí", bank_bin="970418", account="1234567890")
    with pytest.raises(ValueError):
        vietqr_payload(amount_vnd=50_000, purpose="X" * 100, bank_bin="970418", account="1234567890")


def test_references_carry_iso_7064_check_digits():
    assert reference_for(123) == "LP000000012320"
    # ISO 7064 MOD 97-10: the number followed by its check digits is 1 modulo 97.
    for number in (1, 123, 9_999_999_999):
        assert int(f"{number}{check_digits(number)}") % 97 == 1
        assert reference_valid(reference_for(number))
    assert not reference_valid("LP000000012302")  # two digits swapped


def test_a_reference_is_found_in_a_memo_whatever_the_bank_did_to_it():
    assert reference_in_memo("CK LP 0000000123 20 NGUYEN VAN A nop phi") == "LP000000012320"
    assert reference_in_memo("IBFT lp0000000123-20") == "LP000000012320"
    assert reference_in_memo("LP000000012302 typo") == ""
    assert reference_in_memo("no reference") == ""


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (0, "Không đồng"),
        (15, "Mười lăm đồng"),
        (21, "Hai mươi mốt đồng"),
        (105, "Một trăm linh năm đồng"),
        (2_000, "Hai nghìn đồng"),
        (50_000, "Năm mươi nghìn đồng"),
        (1_005_000, "Một triệu không trăm linh năm nghìn đồng"),
        (1_250_000, "Một triệu hai trăm năm mươi nghìn đồng"),
        (4_500_000, "Bốn triệu năm trăm nghìn đồng"),
        (2_000_000_015, "Hai tỷ không trăm mười lăm đồng"),
    ],
)
def test_amounts_in_vietnamese_words(amount, words):
    assert vnd_in_words(amount) == words
