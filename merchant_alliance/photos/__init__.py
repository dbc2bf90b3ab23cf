"""Photos: the Photo record, saving uploads all-or-nothing, and serving them after an access check.

Built on `storage` (backends and the image pipeline), which knows nothing of the domain. Domains
call `services.save_photos` and link to `services.photo_url`.
"""
