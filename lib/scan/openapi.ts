/**
 * The OpenAPI 3.1 document of a function (one scan) or of the combined server (every scan), built
 * from the scans' definitions and their report schemas (lib/scan/report-schema.ts): served at
 * `GET /openapi.json`, described in docs/api.md, checked by an OpenAPI validator in the tests.
 * Imported on the first request for it, so a function's start never loads the converter.
 */
import { toJsonSchema, toJsonSchemaDefs } from '@valibot/to-json-schema';
import type * as v from 'valibot';
import { FORMAT_PARAM, HTTP_FORMATS } from '../report/http.ts';
import { ErrorBodySchema, ReportErrorSchema, reportSchema, type ReportSchemas } from './report-schema.ts';

/** What the document needs of a scan definition (lib/scan/scaffold.ts ScanDefinition). */
export interface ApiScan {
  name: string;
  path: string;
  modes: readonly string[];
  defaultMode: string;
  params?: Record<string, string>;
  report?: ReportSchemas;
}

export interface ApiOptions {
  /** The combined server (GET / lists the scans, POST / routes an event by its `scan` extension). */
  combined: boolean;
  /** CloudEvent types (lib/scan/events.ts). */
  events: { requested: string; completed: string; failed: string; extension: string };
  version?: string;
}

type Json = Record<string, unknown>;

/** A valibot schema as JSON Schema 2020-12 (the dialect of OpenAPI 3.1), without `$schema`. */
export function jsonSchemaOf(schema: v.GenericSchema): Json {
  const { $schema: _, ...rest } = toJsonSchema(schema, { target: 'draft-2020-12', errorMode: 'throw' }) as Json;
  return rest;
}

/** Names for the parts of a scan's report (each part once, however many modes share it), for `$defs` or components. */
export function reportDefinitions(report: ReportSchemas): Record<string, v.GenericSchema> {
  const named = new Map<v.GenericSchema, string>();
  const defs: Record<string, v.GenericSchema> = { report_error: ReportErrorSchema };
  named.set(ReportErrorSchema, 'report_error');
  for (const [mode, m] of Object.entries(report)) {
    for (const [part, schema] of [
      ['summary', m.summary],
      ['results', m.results],
      ['finding', m.finding],
    ] as const) {
      if (!schema || named.has(schema)) continue;
      const name = `${mode}_${part}`;
      named.set(schema, name);
      defs[name] = schema;
    }
  }
  return defs;
}

/** The published JSON Schema of a scan's report (schema/<scan>-report.schema.json). */
export function reportJsonSchema(scan: ApiScan): Json {
  if (!scan.report) throw new Error(`the ${scan.name} scan declares no report schema`);
  const { $schema: _, ...schema } = toJsonSchema(reportSchema(scan.name, scan.report), {
    target: 'draft-2020-12',
    errorMode: 'throw',
    definitions: reportDefinitions(scan.report),
  }) as Json;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://stack-scan.local/schema/${scan.name}-report.schema.json`,
    title: `stack-scan ${scan.name} report`,
    description:
      `The JSON answered by GET ${scan.path} (and carried by the ${scan.name} scan's completed CloudEvent), one shape ` +
      `per mode (scan_type): ${scan.modes.join(', ')}. Generated from functions/${scan.name}-scan/report.ts by npm ` +
      `run docs:gen.`,
    ...schema,
    // The mode selects the shape: validators that know `discriminator` (ajv) check only that branch.
    ...(Array.isArray(schema.oneOf) ? { discriminator: { propertyName: 'scan_type' } } : {}),
  };
}

/** A scan's report for components.schemas: `<Scan>Report` plus its parts as `<Scan>_<part>`. */
function reportComponents(scan: ApiScan): Json {
  const prefix = cap(scan.name);
  if (!scan.report) return { [`${prefix}Report`]: { type: 'object', description: 'Open-ended: this scan declares no report schema' } };
  const defs = reportDefinitions(scan.report);
  const overrideRef = ({ referenceId }: { referenceId: string }) => `#/components/schemas/${prefix}_${referenceId}`;
  const {
    $schema: _,
    $defs: __,
    ...report
  } = toJsonSchema(reportSchema(scan.name, scan.report), { target: 'draft-2020-12', errorMode: 'throw', definitions: defs, overrideRef }) as Json;
  const out: Json = { [`${prefix}Report`]: report };
  for (const [name, schema] of Object.entries(toJsonSchemaDefs(defs, { target: 'draft-2020-12', errorMode: 'throw', overrideRef })))
    out[`${prefix}_${name}`] = schema;
  return out;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const respRef = (name: string) => ({ $ref: `#/components/responses/${name}` });
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ref('ErrorBody') } } });

export function openApiDocument(scans: ApiScan[], o: ApiOptions): Json {
  const ev = o.events;
  const names = scans.map((s) => s.name);
  const schemas: Json = { ErrorBody: jsonSchemaOf(ErrorBodySchema) };
  for (const s of scans) Object.assign(schemas, reportComponents(s));
  const reportRefs = scans.map((s) => ref(`${cap(s.name)}Report`));
  const anyReport = reportRefs.length === 1 ? reportRefs[0] : { oneOf: reportRefs };

  const responses: Json = {
    BadRequest: errorResponse(
      'An unknown or repeated query parameter, an invalid mode or parameter value, or an unacceptable CloudEvent; the ' +
        'body names the parameter (code unknown_parameter, repeated_parameter, invalid_mode, invalid_format, invalid_parameter, …).',
    ),
    NotFound: errorResponse('No such route: any path not in this document (code not_found; the message lists the scans).'),
    MethodNotAllowed: {
      description:
        'The method is not allowed on this path (HEAD never runs a scan); the Allow header names the one that is. A ' +
        'JSON error body (code method_not_allowed) except for HEAD.',
      headers: { Allow: { schema: { type: 'string' } } },
      content: { 'application/json': { schema: ref('ErrorBody') } },
    },
    InvalidSetting: errorResponse(
      'A setting (environment variable) or an input file is invalid: the body names the setting (and the file, line ' +
        'and column), never its content (code invalid_setting, file_unreadable, file_not_directory, too_many_files, ' +
        'yaml_syntax, schema_violation, kubeconfig_invalid). See docs/configuration.md.',
    ),
    Internal: errorResponse('A bug: the message says what failed, never a stack trace (code internal).'),
    Unavailable: errorResponse(
      'Something the scan needs is missing: a setting not configured, a tool not installed, no cluster configured or ' +
        'reachable (code not_configured, tool_missing, cluster_unconfigured, cluster_unreachable); the body names the ' +
        'setting to set.',
    ),
    Other: errorResponse(
      'Any other error, with the same body: e.g. 401 unauthenticated or 502 api_error when the API server refuses our ' + 'credentials or answers an error.',
    ),
    Timeout: errorResponse(
      'The scan did not stop within the grace period after its total time (setting <NAME>_SCAN_TIMEOUT_MS) was spent or every client left (code ' +
        'scan_timeout). A scan that stops in time answers 200 with what it has and a timeout error in errors[].',
    ),
  };

  const paths: Json = {};
  const errors = {
    '400': respRef('BadRequest'),
    '404': respRef('NotFound'),
    '422': respRef('InvalidSetting'),
    '500': respRef('Internal'),
    '503': respRef('Unavailable'),
    '504': respRef('Timeout'),
    default: respRef('Other'),
  };
  for (const s of scans) {
    const params = [
      {
        name: 'mode',
        in: 'query',
        required: false,
        description: `the scan mode (default ${s.defaultMode})`,
        schema: { type: 'string', enum: [...s.modes], default: s.defaultMode },
      },
      {
        name: FORMAT_PARAM,
        in: 'query',
        required: false,
        description:
          "the answer's format: the JSON report (default), or SARIF 2.1.0, JUnit XML or a self-contained HTML page rendered from its checks (docs/cli.md)",
        schema: { type: 'string', enum: [...HTTP_FORMATS], default: 'json' },
      },
      ...Object.entries(s.params ?? {}).map(([name, description]) => ({ name, in: 'query', required: false, description, schema: { type: 'string' } })),
    ];
    const notAllowed = (method: string) => ({
      summary: `${method} is not allowed: use GET`,
      operationId: `${s.name}Scan${cap(method.toLowerCase())}`,
      responses: { '405': respRef('MethodNotAllowed') },
    });
    paths[s.path] = {
      get: {
        summary: `Run the ${s.name} scan`,
        description:
          `Runs the ${s.name} scan and answers its report. Every query parameter other than those listed is a 400, and so ` +
          `is one given twice. Identical requests in flight share one run; the run stops (and answers what it has) when ` +
          `every client left or its total time is spent.`,
        operationId: `${s.name}Scan`,
        tags: [s.name],
        parameters: params,
        responses: {
          '200': {
            description: `The ${s.name} report (schema/${s.name}-report.schema.json)`,
            content: {
              'application/json': { schema: ref(`${cap(s.name)}Report`) },
              'application/sarif+json': { schema: { type: 'object', description: 'format=sarif: a SARIF 2.1.0 log, one run' } },
              'application/xml': { schema: { type: 'string', description: 'format=junit: JUnit XML, one testsuite' } },
              'text/html': { schema: { type: 'string', description: 'format=html: one self-contained page' } },
            },
          },
          ...errors,
        },
      },
      head: notAllowed('HEAD'),
      post: notAllowed('POST'),
    };
  }

  const dataSchema = {
    type: 'object',
    description: `The scan request: {"mode": …} plus the scan's own parameters as strings (the same as the GET query).`,
    properties: { mode: { type: 'string' } },
    required: ['mode'],
    additionalProperties: { type: 'string' },
  };
  const structured = {
    type: 'object',
    description: 'A CloudEvent in structured content mode.',
    properties: {
      specversion: { const: '1.0' },
      type: { const: ev.requested },
      source: { type: 'string' },
      id: { type: 'string' },
      datacontenttype: { type: 'string' },
      [ev.extension]: {
        type: 'string',
        enum: names,
        description: o.combined ? 'which scan to run (required by the combined server)' : 'optional; must name this scan when given',
      },
      data: dataSchema,
    },
    required: ['specversion', 'type', 'source', 'id', 'data', ...(o.combined ? [ev.extension] : [])],
  };
  const header = (name: string, description: string, required = false) => ({ name, in: 'header', required, description, schema: { type: 'string' } });
  const replyData = { oneOf: [anyReport, ref('ErrorBody')] };
  paths['/'] = {
    ...(o.combined
      ? {
          get: {
            summary: 'The scans this server runs',
            operationId: 'listScans',
            responses: {
              '200': {
                description: 'One entry per scan',
                content: {
                  'application/json': {
                    schema: {
                      type: 'object',
                      properties: {
                        scans: {
                          type: 'array',
                          items: {
                            type: 'object',
                            properties: {
                              scan: { type: 'string' },
                              path: { type: 'string' },
                              modes: { type: 'array', items: { type: 'string' } },
                              default_mode: { type: 'string' },
                            },
                            required: ['scan', 'path', 'modes', 'default_mode'],
                          },
                        },
                      },
                      required: ['scans'],
                    },
                  },
                },
              },
            },
          },
        }
      : { get: { summary: 'GET is not allowed on /: POST a CloudEvent', operationId: 'rootGet', responses: { '405': respRef('MethodNotAllowed') } } }),
    post: {
      summary: 'Run a scan from a CloudEvent',
      description:
        `Takes a CloudEvent of type ${ev.requested} (binary or structured content mode) and runs the scan through the ` +
        `same coalescing and time limit as GET. The reply (same content mode) is a CloudEvent of type ${ev.completed} ` +
        `with the report as data, or ${ev.failed} with the error body as data; extensions ${ev.extension}, scanmode and ` +
        `inresponseto (the request's id).${o.combined ? ` The ${ev.extension} extension selects the scan: one of ${names.join(', ')}.` : ''}`,
      operationId: 'scanEvent',
      parameters: [
        header('ce-specversion', 'binary mode: 1.0'),
        header('ce-type', `binary mode: ${ev.requested}`),
        header('ce-source', 'binary mode: the sender'),
        header('ce-id', 'binary mode: the event id'),
        header(`ce-${ev.extension}`, `binary mode: the scan (${names.join(', ')})`),
      ],
      requestBody: { required: true, content: { 'application/cloudevents+json': { schema: structured }, 'application/json': { schema: dataSchema } } },
      responses: {
        '200': {
          description:
            `The reply event: ${ev.completed} (data: the report) or ${ev.failed} (data: the error body). In binary mode the ` +
            `body is the data and the attributes are ce-* headers.`,
          content: {
            'application/cloudevents+json': {
              schema: { type: 'object', properties: { type: { enum: [ev.completed, ev.failed] }, data: replyData }, required: ['type', 'data'] },
            },
            'application/json': { schema: replyData },
          },
        },
        '400': respRef('BadRequest'),
      },
    },
  };
  paths['/healthz'] = {
    get: {
      summary: 'Liveness and readiness',
      description: 'Answered by the HTTP server itself, before anything a scan loads.',
      operationId: 'healthz',
      responses: {
        '200': {
          description: 'The server is up',
          content: { 'application/json': { schema: { type: 'object', properties: { status: { const: 'ok' } }, required: ['status'] } } },
        },
      },
    },
  };
  paths['/openapi.json'] = {
    get: {
      summary: 'This document',
      operationId: 'openapi',
      responses: { '200': { description: 'The OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: o.combined ? 'stack-scan (every scan)' : `stack-scan ${scans[0]?.name ?? ''} scan`,
      version: o.version ?? '0.1.0',
      description:
        'Security scans of a Kubernetes application stack described by Stacktic metadata. Each scan answers a JSON ' +
        'report with a 0–100 score; every error is a JSON body naming the parameter, setting or file. See docs/api.md ' +
        'and schema/*.json.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: { schemas, responses },
  };
}
