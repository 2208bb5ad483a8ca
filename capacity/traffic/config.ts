/** The stack's traffic config as the schema parses it: what every traffic module reads (a leaf, so none imports the index). */
import type { z } from "zod";
import type { trafficSchema } from "../../stacks/schema";

export type TrafficConfig = z.output<typeof trafficSchema>;
