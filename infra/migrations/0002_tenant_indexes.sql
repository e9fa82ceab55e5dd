-- Per-tenant counts (GET /v1/me usage, quota checks) without scanning every tenant's images and models.
CREATE INDEX images_tenant ON images(tenant_id);
CREATE INDEX training_jobs_tenant_status ON training_jobs(tenant_id, status);
