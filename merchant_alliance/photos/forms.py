"""What a photo upload field accepts (the server checks the real format regardless)."""

PHOTO_ACCEPT = "image/jpeg,image/png,image/webp,image/heic,image/heif"
# Where a PDF is welcome too (a contractor's quote).
ATTACHMENT_ACCEPT = f"{PHOTO_ACCEPT},application/pdf"
