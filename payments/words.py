"""Amounts in Vietnamese words, as receipts print them ("Số tiền bằng
chữ"): 1.250.000 → "Một triệu hai trăm năm mươi nghìn đồng".

Rules: "mười" for 10-19, "mươi" for the other tens; a final 1 after a tens
word from 20 up is "mốt"; a final 5 after any tens word is "lăm"; a zero
tens inside a group is "linh" (105 = một trăm linh năm); a group after a
larger one is read in full ("một triệu không trăm linh năm nghìn")."""

_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_SCALES = ("", "nghìn", "triệu", "tỷ")


def _group(number: int, *, full: bool) -> list[str]:
    """Words of 0 < number < 1000; `full` reads the hundreds even when zero."""
    hundreds, tens, units = number // 100, number // 10 % 10, number % 10
    words: list[str] = []
    if hundreds or full:
        words += [_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and words:
            words.append("linh")
    elif tens == 1:
        words.append("mười")
    else:
        words += [_DIGITS[tens], "mươi"]
    if units:
        if units == 1 and tens >= 2:
            words.append("mốt")
        elif units == 5 and tens >= 1:
            words.append("lăm")
        else:
            words.append(_DIGITS[units])
    return words


def _words(number: int) -> list[str]:
    if number == 0:
        return [_DIGITS[0]]
    groups = []
    while number:
        groups.append(number % 1000)
        number //= 1000
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        words += _group(group, full=bool(words))
        if index:
            words.append(_SCALES[index])
    return words


def vnd_in_words(amount: int) -> str:
    """The amount in Vietnamese words with "đồng", capitalised."""
    if not 0 <= amount < 10**12:
        raise ValueError("amounts from 0 to 999 tỷ")
    text = " ".join(_words(amount)) + " đồng"
    return text[0].upper() + text[1:]


def vnd(amount: int) -> str:
    """1250000 → "1.250.000" (Vietnamese digit grouping)."""
    return f"{amount:,}".replace(",", ".")
