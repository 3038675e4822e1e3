/**
 * Where the topology files are. Every scan reads the same settings:
 *   STACK_METADATA          path to Stacktic's stack-metadata.yaml (default ./stack-metadata.yaml)
 *   NETWORKPOLICY_MANIFEST  path to networkpolicy-manifest.json; when unset, the file of that
 *                           name beside stack-metadata.yaml is used if it exists, otherwise the
 *                           expected policies are derived from the metadata.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { deriveExpected, loadManifest, type ExpectedSet } from './expected.ts';
import type { FileRef } from './files.ts';
import { loadStackMetadata } from './stack-metadata.ts';
import type { Topology } from './types.ts';

export const METADATA_SETTING = 'STACK_METADATA';
export const MANIFEST_SETTING = 'NETWORKPOLICY_MANIFEST';

export interface TopologySettings {
  metadata: FileRef;
  /** Set when the user named a manifest explicitly: it must then exist. */
  manifest?: FileRef;
}

export function topologySettings(env: NodeJS.ProcessEnv = process.env): TopologySettings {
  return {
    metadata: { path: resolve(env[METADATA_SETTING] || 'stack-metadata.yaml'), setting: METADATA_SETTING },
    ...(env[MANIFEST_SETTING] ? { manifest: { path: resolve(env[MANIFEST_SETTING]!), setting: MANIFEST_SETTING } } : {}),
  };
}

export interface LoadedTopology {
  topology: Topology;
  expected: ExpectedSet;
}

export async function loadTopology(settings: TopologySettings): Promise<Topology> {
  return loadStackMetadata(settings.metadata);
}

/** The topology plus the expected NetworkPolicy set, from the manifest or derived. */
export async function loadTopologyAndPolicies(settings: TopologySettings): Promise<LoadedTopology> {
  const topology = await loadTopology(settings);
  if (settings.manifest) return { topology, expected: await loadManifest(settings.manifest) };
  const beside = join(dirname(settings.metadata.path), 'networkpolicy-manifest.json');
  if (existsSync(beside)) return { topology, expected: await loadManifest({ path: beside, setting: MANIFEST_SETTING }) };
  return { topology, expected: deriveExpected(topology, settings.metadata.path) };
}
