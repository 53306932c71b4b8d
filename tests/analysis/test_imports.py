import subprocess
import sys


def test_analysis_imports_no_app_or_model_code():
    code = (
        "import sys, analysis.report, analysis.html, analysis.plots, analysis.elo, analysis.winrate;"
        "bad = [m for m in ('arena', 'models', 'gradio', 'torch', 'diffusers') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
