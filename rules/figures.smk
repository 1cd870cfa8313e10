rule fig2:
    input:
        f"{SYN}/tables/interpretability_{{method}}.tsv",
    output:
        pdf=f"{SYN}/figures/fig2_{{method}}.pdf",
        png=report(
            f"{SYN}/figures/fig2_{{method}}.png",
            caption="../report/fig2.rst",
            category="Synthetic data",
            subcategory="Figures",
        ),
    log:
        f"{SYN_LOGS}/fig2_{{method}}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/plot_fig2.py"
