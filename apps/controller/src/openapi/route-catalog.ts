import { Injectable, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';

export interface RouteInfo {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** `/api/v1/extensions/:id` */
  readonly path: string;
  readonly controller: string;
  readonly handler: string;
  /** The query parameters the handler reads by name (`@Query('dryRun')`), in argument order. */
  readonly query: readonly string[];
}

const METHODS: Partial<Record<RequestMethod, RouteInfo['method']>> = {
  [RequestMethod.GET]: 'GET',
  [RequestMethod.POST]: 'POST',
  [RequestMethod.PUT]: 'PUT',
  [RequestMethod.PATCH]: 'PATCH',
  [RequestMethod.DELETE]: 'DELETE',
};

const join = (...parts: string[]): string => `/${parts.flatMap((p) => p.split('/')).filter((p) => p !== '').join('/')}`;

/** Every HTTP route Nest registered, read from the controllers' metadata: the OpenAPI document and the rights matrix test walk it. */
@Injectable()
export class RouteCatalog {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  routes(): RouteInfo[] {
    const out: RouteInfo[] = [];
    for (const wrapper of this.discovery.getControllers()) {
      const { instance, metatype } = wrapper;
      if (instance === undefined || instance === null || metatype === undefined || metatype === null) continue;
      const base = (this.reflector.get<string>(PATH_METADATA, metatype) ?? '') as string;
      const proto = Object.getPrototypeOf(instance) as object;
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const fn = (proto as Record<string, unknown>)[name] as () => unknown;
        const path = this.reflector.get<string | undefined>(PATH_METADATA, fn);
        const method = METHODS[this.reflector.get<RequestMethod>(METHOD_METADATA, fn)];
        if (path === undefined || method === undefined) continue;
        out.push({ method, path: join(base, path), controller: metatype.name, handler: name, query: queryParameters(metatype, name) });
      }
    }
    return out.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
  }
}

/** The names of a handler's `@Query(name)` arguments, from the metadata Nest's parameter decorators leave. */
function queryParameters(controller: object, handler: string): string[] {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler) ?? {}) as Record<string, { index: number; data?: unknown }>;
  return Object.entries(args)
    .filter(([key, arg]) => key.startsWith(`${RouteParamtypes.QUERY}:`) && typeof arg.data === 'string')
    .sort(([, a], [, b]) => a.index - b.index)
    .map(([, arg]) => arg.data as string);
}
