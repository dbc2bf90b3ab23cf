"""What a photo upload field accepts (the server checks the real format regardless)."""

PHOTO_ACCEPT = "image/jpeg,image/png,image/webp,image/heic,image/heif"
# Where a PDF is welcome too (a contractor's quote).
ATTACHMENT_ACCEPT = f"{PHOTO_ACCEPT},application/pdf"


def files_chosen(field) -> bool:
    """Whether the form came back (refused) with files chosen in this upload field: a browser never sends them
    again, so the field says to choose them again."""
    data = field.data if isinstance(field.data, list) else [field.data]
    return any(getattr(item, "filename", None) for item in data)
