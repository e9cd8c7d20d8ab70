import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Controller, Get, Header, Inject, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/auth.guard.js';
import { NotFoundError } from '../errors.js';
import { apiIndex, type ApiIndex } from './api-index.js';
import { openApiDocument } from './openapi-document.js';
import { RouteCatalog } from './route-catalog.js';

/**
 * The API's documentation page: Swagger UI (the swagger-ui-dist package, served from this controller: the
 * controller may have no internet, so no CDN) rendering /api/openapi.json, with its schemas and examples.
 */
const DOCS_HTML = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fedpbx controller API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" type="image/svg+xml" href="/favicon.svg">
<link rel="stylesheet" href="/api/docs/swagger-ui.css"></head><body>
<noscript>The API documentation needs JavaScript. The document itself is at <a href="/api/openapi.json">/api/openapi.json</a>.</noscript>
<div id="swagger-ui"></div><script src="/api/docs/swagger-ui-bundle.js"></script><script src="/api/docs/docs-init.js"></script></body></html>`;

/** Starts Swagger UI on the document; a script file rather than inline, so a strict content policy can allow it. */
const INIT_JS = `window.ui = SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#swagger-ui', deepLinking: true, presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout', defaultModelsExpandDepth: 1, tryItOutEnabled: false });\n`;

/** The viewer's files this page uses (and only those: the package holds more, none of which is served). */
const VIEWER_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

@Public()
@Controller('api')
export class OpenApiController {
  private document: Record<string, unknown> | undefined;
  private index: ApiIndex | undefined;
  private readonly viewerFiles = new Map<string, Buffer>();

  constructor(@Inject(RouteCatalog) private readonly catalog: RouteCatalog) {}

  @Get('openapi.json')
  openapi(): Record<string, unknown> {
    return (this.document ??= openApiDocument(this.catalog.routes()));
  }

  /** `GET /api/v1`: what this API offers, as links (was a 404: a newcomer's first request). */
  @Get('v1')
  v1(): ApiIndex {
    return (this.index ??= apiIndex(this.catalog.routes()));
  }

  @Get('docs')
  @Header('content-type', 'text/html; charset=utf-8')
  docs(): string {
    return DOCS_HTML;
  }

  @Get('docs/:file')
  viewerFile(@Param('file') file: string, @Res({ passthrough: true }) reply: FastifyReply): Buffer | string {
    void reply.header('cache-control', 'public, max-age=3600');
    if (file === 'docs-init.js') {
      void reply.type('text/javascript; charset=utf-8');
      return INIT_JS;
    }
    const type = VIEWER_FILES[file];
    if (type === undefined) throw new NotFoundError('documentation file', file);
    let content = this.viewerFiles.get(file);
    if (content === undefined) this.viewerFiles.set(file, (content = readFileSync(join(viewerDir(), file))));
    void reply.type(type);
    return content;
  }
}

/** Where the installed swagger-ui-dist package is. */
function viewerDir(): string {
  return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
}
