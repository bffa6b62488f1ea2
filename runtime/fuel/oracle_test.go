package fuel

// planNaive is the counting oracle: it charges every instruction's cost right before it (and the entry cost
// before the first), with no block analysis. Any run that completes must use exactly the fuel planMetered's
// rewrite uses.
func planNaive(_ *planner, ins []instr, _ []uint32, entry uint64) []charge {
	var out []charge
	if entry > 0 {
		out = append(out, charge{at: 0, cost: entry})
	}
	for i, in := range ins {
		if in.cost > 0 {
			out = append(out, charge{at: i, cost: uint64(in.cost)})
		}
	}
	return sortCharges(out)
}
