export * from './patterns/index.js';
export * from './numbering/interval-index.js';
export * from './numbering/numbering-plan.js';
export * from './routing/compiled-site.js';
export * from './routing/route-resolver.js';
export * from './snapshot/site-view.js';
export * from './scenario/founding-scenario.js';
