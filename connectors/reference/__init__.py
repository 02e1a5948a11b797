"""Reference data: NHS ODS organisations, local wards and aliases, for sources that carry no codes.

ref = ReferenceData.load(Path("reference/"))
ref.resolve("St James's University Hospital")   # -> Organisation(code="RR813", ...)
ref.mentions("Waited 9 hours at #LGI A&E")        # -> [Organisation(...)]
"""

from connectors.reference.data import ReferenceData
from connectors.reference.model import Aliases, LoadProblem, Organisation, Ward

__all__ = ["Aliases", "LoadProblem", "Organisation", "ReferenceData", "Ward"]
