# Report stage: every metrics file of the results tree -> leaderboard.csv + .parquet (the pipeline's last
# target). It reads all of metrics/, not only this grid's files: results of other grids stay on the board.


rule leaderboard:
    input:
        lambda wildcards: GRID_METRICS,
    output:
        csv=f"{LEADERBOARD}.csv",
        parquet=f"{LEADERBOARD}.parquet",
    log:
        f"{RESULTS}/logs/leaderboard.log",
    benchmark:
        f"{RESULTS}/benchmarks/leaderboard.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{GENREC} leaderboard --results {RESULTS} --out {output.csv} 2> {log}"
