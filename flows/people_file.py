"""Reading a staff list (CSV or XLSX with 姓名, 部门, 邮箱, 角色, 上级) into rows."""

import csv
import io
from pathlib import Path

from openpyxl import load_workbook

from models.directory import PersonRow
from models.errors import BadInput

COLUMNS = ("姓名", "部门", "邮箱", "角色", "上级")
REQUIRED = ("姓名", "部门", "角色")


def read_people_file(path: Path) -> list[PersonRow]:
    """All data rows of the file, with their line numbers; blank rows are skipped."""
    if not path.is_file():
        raise BadInput(f"找不到文件：{path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = _csv_rows(path.read_bytes())
    elif suffix in (".xlsx", ".xlsm"):
        table = _xlsx_rows(path)
    else:
        raise BadInput(f"不支持的人员名单格式“{suffix or path.name}”：请使用 .csv 或 .xlsx")
    return _to_rows(table, path.name)


def _csv_rows(data: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise BadInput("人员名单不是 UTF-8 或 GB18030 编码的 CSV 文件")
    return [row for row in csv.reader(io.StringIO(text))]


def _xlsx_rows(path: Path) -> list[list[str]]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged file
        raise BadInput(f"无法读取 Excel 文件 {path.name}：{error}") from error
    sheet = workbook.worksheets[0]
    rows = [
        ["" if cell is None else str(cell) for cell in row]
        for row in sheet.iter_rows(values_only=True)
    ]
    workbook.close()
    return rows


def _to_rows(table: list[list[str]], filename: str) -> list[PersonRow]:
    header_index = next((i for i, row in enumerate(table) if any(c.strip() for c in row)), None)
    if header_index is None:
        raise BadInput(f"{filename} 是空文件")
    header = [cell.strip() for cell in table[header_index]]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise BadInput(f"{filename} 缺少列：{'、'.join(missing)}（需要：{'、'.join(COLUMNS)}）")
    position = {name: header.index(name) for name in COLUMNS if name in header}

    def cell(row: list[str], name: str) -> str:
        index = position.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    rows = []
    for line, row in enumerate(table[header_index + 1 :], start=header_index + 2):
        if not any(c.strip() for c in row):
            continue
        rows.append(
            PersonRow(
                line=line,
                name=cell(row, "姓名"),
                department=cell(row, "部门"),
                email=cell(row, "邮箱"),
                roles=cell(row, "角色"),
                supervisor=cell(row, "上级"),
            )
        )
    return rows
