// @cocoop/sdk/node: everything of '@cocoop/sdk', with a client whose datasets can also upload a folder from disk.
import { CoCoOp as CoreClient } from '../client.ts';
import type { HttpClient } from '../core/http.ts';
import { Datasets } from '../resources/datasets.ts';
import type { UploadOptions, UploadResult } from '../uploads.ts';
import { readImageFolder } from './image-folder.ts';

export * from '../index.ts';
export { ImageFolderError, MAX_IMAGE_BYTES, readImageFolder, sniffImageType } from './image-folder.ts';

export class NodeDatasets extends Datasets {
  /**
   * Uploads the image folder `folder` (one sub-folder per class, named after it) into the open dataset `datasetId`.
   * The whole folder is checked first: a folder with no images, files that are not JPEG/PNG/WebP, files outside class
   * folders... reject with ImageFolderError before anything is uploaded. Then as uploadFiles: batches of presigned
   * uploads, `concurrency` PUTs at a time, `onProgress` after each file.
   */
  async uploadFolder(datasetId: string, folder: string, options: UploadOptions = {}): Promise<UploadResult> {
    return this.uploadFiles(datasetId, await readImageFolder(folder), options);
  }
}

export class CoCoOp extends CoreClient {
  declare readonly datasets: NodeDatasets;

  protected override createDatasets(http: HttpClient): NodeDatasets {
    return new NodeDatasets(http);
  }
}

export default CoCoOp;
