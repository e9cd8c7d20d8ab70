import { Controller, Get, Header, Inject } from '@nestjs/common';
import { Public } from '../auth/auth.guard.js';
import { openApiDocument } from './openapi-document.js';
import { RouteCatalog } from './route-catalog.js';

/** A self-contained page that lists the document's operations and schemas (no CDN, no bundle). */
const DOCS_HTML = `<!doctype html><html><head><meta charset="utf-8"><title>fedpbx API</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}code,pre{background:#f4f4f4}pre{padding:.5em;overflow:auto}
h2{margin-top:1.5em}.m{display:inline-block;width:4.5em;font-weight:bold}</style></head><body>
<h1>fedpbx controller API</h1><p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a>. Authenticate with
<code>POST /api/v1/auth/login</code>, then send <code>Authorization: Bearer &lt;token&gt;</code>.</p><div id="ops"></div>
<script>
fetch('/api/openapi.json').then(r=>r.json()).then(doc=>{const el=document.getElementById('ops');
for(const [p,ops] of Object.entries(doc.paths)){for(const [m,op] of Object.entries(ops)){const d=document.createElement('details');
const s=document.createElement('summary');s.innerHTML='<span class="m">'+m.toUpperCase()+'</span><code></code>';s.querySelector('code').textContent=p;d.appendChild(s);
const ref=op.requestBody&&op.requestBody.content['application/json'].schema.$ref;if(ref){const name=ref.split('/').pop();
const pre=document.createElement('pre');pre.textContent=name+' = '+JSON.stringify(doc.components.schemas[name],null,2);d.appendChild(pre);}
el.appendChild(d);}}});
</script></body></html>`;

@Public()
@Controller('api')
export class OpenApiController {
  private document: Record<string, unknown> | undefined;

  constructor(@Inject(RouteCatalog) private readonly catalog: RouteCatalog) {}

  @Get('openapi.json')
  openapi(): Record<string, unknown> {
    return (this.document ??= openApiDocument(this.catalog.routes()));
  }

  @Get('docs')
  @Header('content-type', 'text/html; charset=utf-8')
  docs(): string {
    return DOCS_HTML;
  }
}
