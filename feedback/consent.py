"""The consent a reporter gives to the processing of a report's location.

Locations are sensitive personal data (Law 91/2025/QH15 on personal data
protection); consent must be explicit and recorded per purpose. The text is
versioned: a new wording is a new version, and each report records the
version its reporter agreed to (`LocationConsent`). Keep the old versions
here: recorded consents refer to them."""

PURPOSE = "feedback_location"
CURRENT_VERSION = "2025-12"

TEXTS: dict[str, tuple[str, str]] = {
    "2025-12": (
        "Tôi đồng ý để cơ quan nhà nước tỉnh Bắc Ninh xử lý vị trí tôi cung cấp (điểm trên bản đồ, vị trí thiết bị "
        "hoặc địa chỉ) nhằm xác định nơi xảy ra sự việc, chuyển phản ánh tới cơ quan có thẩm quyền và trả lời. "
        "Vị trí chính xác chỉ được công khai khi cơ quan công khai câu trả lời; trước đó bản đồ công khai chỉ hiện "
        "vị trí gần đúng (khoảng 100 m).",
        "I agree that the authorities of Bắc Ninh province process the location I give (a map point, my device's "
        "position or an address) to find where the matter is, route this report to the competent agency and answer "
        "it. The exact location becomes public only when the agency publishes its answer; until then the public map "
        "shows it to about 100 m.",
    ),
}


def consent_text(version: str = CURRENT_VERSION) -> tuple[str, str]:
    return TEXTS[version]
