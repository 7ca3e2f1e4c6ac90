"""Video recording on the box: encrypted rolling segments, retention, legal holds, quota, upload.

Off by default, per camera. See :mod:`.media` (cutting segments with FFmpeg), :mod:`.crypto`
(AES-256-GCM at rest), :mod:`.store` (the folder, holds), :mod:`.retention` (what to destroy,
a pure rule), :mod:`.recorder` (one camera's thread), :mod:`.purge` (the agent's job).
"""
