// Limits of dataset uploads (fixed here; the tenant quotas live in EdgeConfig).

/** One image file, through the API or a presigned PUT. */
export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
/** One multipart request (all its parts). */
export const MAX_MULTIPART_BYTES = 50 * 1024 * 1024;
/** Files per multipart request and per presigned-upload request. */
export const MAX_FILES_PER_REQUEST = 100;
/** Decompression-bomb guard: width × height of one image. */
export const MAX_IMAGE_PIXELS = 40_000_000;
/** Classes declared at creation. */
export const MAX_CLASSES = 1000;
/** Length of a class name / image label. */
export const MAX_LABEL_LENGTH = 100;
/** Lifetime of a presigned upload URL and its pending image row. */
export const UPLOAD_TTL_SECONDS = 15 * 60;
