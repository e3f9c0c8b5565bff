# A monthly cost increase above $500 needs an admin's override; above $100 it is pointed out.
package tfpilot.monthly_cost

override_above := 500

warn_above := 100

deny contains msg if {
	input.cost.monthly_delta > override_above
	msg := sprintf("adds %.2f %s a month, more than %d: an admin must override (tfpilot policy override)", [input.cost.monthly_delta, input.cost.currency, override_above])
}

warn contains msg if {
	input.cost.monthly_delta > warn_above
	input.cost.monthly_delta <= override_above
	msg := sprintf("adds %.2f %s a month", [input.cost.monthly_delta, input.cost.currency])
}
