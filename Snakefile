# gradcorr: gradient correction of attributions for DNA sequence models.
# Default: snakemake --cores all   |   in vivo demo: --configfile config/invivo_demo.yaml   |   paper scale: --configfile config/paper.yaml
# Each study's rules are in rules/<study>.smk; config/README.md says what each config file runs.


from snakemake.utils import min_version

min_version("9.0")


configfile: f"{workflow.basedir}/config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/resources.smk"
include: "rules/synthetic.smk"
include: "rules/invivo.smk"
include: "rules/consistency.smk"
include: "rules/angle_training.smk"
include: "rules/regularization.smk"
include: "rules/faithfulness.smk"
include: "rules/diffroar.smk"
include: "rules/multitask.smk"
include: "rules/motifs.smk"
include: "rules/downloads.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
