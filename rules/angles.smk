rule ensemble_angles:
    input:
        lambda wildcards: trial_files(
            f"{SYN}/attributions/{wildcards.arch}_{wildcards.activation}_{{trial}}.{wildcards.method}.h5"
        ),
    output:
        f"{SYN}/angles/ensemble_{{arch}}_{{activation}}.{{method}}.h5",
    log:
        f"{SYN_LOGS}/angles/ensemble_{{arch}}_{{activation}}.{{method}}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/ensemble_angles.py"


rule angle_figures:
    input:
        summaries=expand(f"{SYN}/angles/{{model}}.{{{{method}}}}.h5", model=MODELS),
        ensembles=expand(f"{SYN}/angles/ensemble_{{model_type}}.{{{{method}}}}.h5", model_type=MODEL_TYPES),
    output:
        fig3=report(
            f"{SYN}/figures/fig3cd_{{method}}.png",
            caption="../report/fig3cd.rst",
            category="Synthetic data",
            subcategory="Angles",
        ),
        fig3_pdf=f"{SYN}/figures/fig3cd_{{method}}.pdf",
        fig3_tsv=f"{SYN}/tables/fig3cd_{{method}}.tsv",
        fig4=report(
            f"{SYN}/figures/fig4a_{{method}}.png",
            caption="../report/fig4a.rst",
            category="Synthetic data",
            subcategory="Angles",
        ),
        fig4_pdf=f"{SYN}/figures/fig4a_{{method}}.pdf",
        fig4_tsv=f"{SYN}/tables/fig4a_{{method}}.tsv",
        fig10=report(
            f"{SYN}/figures/fig10_{{method}}.png",
            caption="../report/fig10.rst",
            category="Synthetic data",
            subcategory="Angles",
        ),
        fig10_pdf=f"{SYN}/figures/fig10_{{method}}.pdf",
        fig10_tsv=f"{SYN}/tables/fig10_{{method}}.tsv",
    log:
        f"{SYN_LOGS}/angle_figures_{{method}}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/angle_figures.py"


rule angle_table:
    input:
        summaries=expand(f"{SYN}/angles/{{model}}.{{method}}.h5", model=MODELS, method=METHODS),
        interpretability=expand(f"{SYN}/tables/interpretability_{{method}}.tsv", method=METHODS),
    output:
        report(
            f"{SYN}/tables/angle_summary.tsv",
            caption="../report/angle_summary.rst",
            category="Synthetic data",
            subcategory="Tables",
        ),
    log:
        f"{SYN_LOGS}/angle_table.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/angle_table.py"


rule logos:
    input:
        attributions=f"{SYN}/attributions/{{arch}}_{{activation}}_{{trial}}.{{method}}.h5",
        summary=f"{SYN}/angles/{{arch}}_{{activation}}_{{trial}}.{{method}}.h5",
    output:
        png=report(
            f"{SYN}/figures/logos/{{arch}}_{{activation}}_{{trial}}.{{method}}.png",
            caption="../report/logos.rst",
            category="Synthetic data",
            subcategory="Sequence logos",
        ),
        pdf=f"{SYN}/figures/logos/{{arch}}_{{activation}}_{{trial}}.{{method}}.pdf",
        tsv=f"{SYN}/tables/logos/{{arch}}_{{activation}}_{{trial}}.{{method}}.tsv",
    log:
        f"{SYN_LOGS}/logos/{{arch}}_{{activation}}_{{trial}}.{{method}}.log",
    params:
        window=config["angles"]["logo_window"],
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/logos.py"
