-- Where each generated image is (docs/generation.md: GET /v1/images/{id} serves a tenant its own images).
-- The ledger row of a generation that produced an image names the image's id and the R2 object
-- holding its bytes: the cache entry, or for a no-store request a copy under images/{tenant}/.
-- So a cached image is written to R2 once, and a cache hit writes nothing to R2.
ALTER TABLE usage_ledger ADD COLUMN image_id TEXT;
ALTER TABLE usage_ledger ADD COLUMN image_key TEXT;
CREATE INDEX usage_ledger_image ON usage_ledger (image_id) WHERE image_id IS NOT NULL;
