package org.pathlingrelay.forward;

/** How changes travel to Pathling. */
public enum ForwardMode {
  /** One FHIR batch Bundle of PUTs per resource type and request: few, large Delta commits. */
  BATCH,
  /** One PUT per resource: simple, but each one is a commit of its own on Pathling. */
  UPDATE
}
