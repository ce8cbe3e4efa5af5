"""Snakemake adapter: the queries section -> queries.json, the query list a target's logits
computed outside the workflow must follow (lira.workflow.targets.write_query_list)."""

from lira.workflow.targets import write_query_list

write_query_list(snakemake.output[0], snakemake.params.queries)
