/** What the gatekeeper-library generators share: the containers they check, exempt images, untestable results. */
import type { Constraint, Resource, ViolateResult } from './types.ts';
import { containers, isExemptImage, type ContainerField } from './base.ts';

/** Library templates that read `input.review.object.spec.containers` only judge a Pod's own spec. */
export const POD_ONLY: readonly string[] = ['Pod'];
export const CHECKED: readonly ContainerField[] = ['containers', 'initContainers'];
export const ALL_CONTAINERS: readonly ContainerField[] = ['containers', 'initContainers', 'ephemeralContainers'];

export const untestable = (reason: string): ViolateResult => ({ untestable: reason });

/** The first container (spec.containers, then initContainers) whose image is not exempt. */
export function target(r: Resource, c: Constraint, fields: readonly ContainerField[] = CHECKED): Record<string, any> | undefined {
  const exempt = c.parameters?.exemptImages;
  return containers(r, fields).find((k) => !isExemptImage(k.image, exempt));
}

/** Containers whose image is not exempt. */
export function checked(r: Resource, c: Constraint, fields: readonly ContainerField[] = CHECKED): Record<string, any>[] {
  const exempt = c.parameters?.exemptImages;
  return containers(r, fields).filter((k) => !isExemptImage(k.image, exempt));
}

export function allExempt(c: Constraint): string {
  return (
    `every container image of the resource is exempt by exemptImages ${JSON.stringify(c.parameters?.exemptImages ?? [])}, so nothing this ` +
    `constraint checks can be violated`
  );
}
