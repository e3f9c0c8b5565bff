# Production databases are Multi-AZ: a prod database without multi_az = true (false, or not set)
# is denied; elsewhere it is only a warning.
package tfpilot.prod_databases

single_az contains rc.address if {
	some rc in input.plan.resource_changes
	rc.type == "aws_db_instance"
	not "delete" in rc.change.actions
	not rc.change.after.multi_az == true
}

deny contains msg if {
	input.request.environment == "prod"
	some address in single_az
	msg := sprintf("%s: a production database must be multi_az (set multi_az = true)", [address])
}

warn contains msg if {
	input.request.environment != "prod"
	some address in single_az
	msg := sprintf("%s is single-AZ: fine for %s, not for prod", [address, input.request.environment])
}
