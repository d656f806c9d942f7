/** An expert's address: MoE layer and expert index within the layer. */
export interface ExpertId {
  layer: number;
  expert: number;
}

/** A compact key for maps: layer * E + expert. */
export function expertKey(id: ExpertId, numExperts: number): number {
  return id.layer * numExperts + id.expert;
}

export function expertFromKey(key: number, numExperts: number): ExpertId {
  return { layer: Math.floor(key / numExperts), expert: key % numExperts };
}
