-- The sha256 of each stored image's bytes, taken when the edge verified them (multipart upload or
-- /uploads/complete). Workers check every downloaded image against it, so bytes replaced in storage after the
-- check (e.g. through a presigned URL that has not expired yet) fail the job instead of being trained on.
-- NULL for pending uploads and for images stored before this migration (not checked).
ALTER TABLE images ADD COLUMN sha256 TEXT;
