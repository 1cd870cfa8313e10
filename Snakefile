# gradcorr: gradient correction of attributions for DNA sequence models.
# Default: snakemake --cores all   |   in vivo demo: --configfile config/invivo_demo.yaml   |   paper scale: --configfile config/paper.yaml


from snakemake.utils import min_version

min_version("9.0")


configfile: f"{workflow.basedir}/config/config.yaml"


include: "rules/common.smk"


report: "report/workflow.rst"


rule all:
    input:
        all_outputs(),
    default_target: True


include: "rules/synthetic.smk"
include: "rules/training.smk"
include: "rules/evaluation.smk"
include: "rules/angles.smk"
include: "rules/figures.smk"
include: "rules/downloads.smk"
include: "rules/invivo.smk"
include: "rules/consistency.smk"
