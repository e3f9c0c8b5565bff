# Buckets must block public access: every public access block the request plans has all four
# switches on, and no bucket is made without one.
package tfpilot.buckets

blocks := {rc.address: rc |
	some rc in input.plan.resource_changes
	rc.type == "aws_s3_bucket_public_access_block"
	not "delete" in rc.change.actions
}

switches := ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]

deny contains msg if {
	some address, rc in blocks
	some switch in switches
	not rc.change.after[switch] == true
	msg := sprintf("%s: %s must be true (buckets block public access)", [address, switch])
}

deny contains msg if {
	some rc in input.plan.resource_changes
	rc.type == "aws_s3_bucket"
	"create" in rc.change.actions
	count(blocks) == 0
	msg := sprintf("%s: a new bucket needs an aws_s3_bucket_public_access_block", [rc.address])
}
