--[[
HTML cell output as pandoc's own elements, for formats that cannot show raw HTML (DOCX, PDF).

A cell that shows a great_tables table or a data frame leaves a raw HTML block in the
intermediate markdown. Word and Typst drop raw HTML, so this filter reads each such block with
pandoc's HTML reader and keeps what it means: tables (with their column alignment, header rows
and row-group rows), paragraphs and lists. Styles and scripts are dropped.

A table float (a div with id tbl-... holding a caption div of class float-caption) that now
holds one table becomes that table, captioned and labelled: Word and Typst then number and
place the caption as a table caption, and crossref.lua (which runs next) prefixes it.

Runs before callouts.lua and crossref.lua.
]]

local ALIGNMENTS = {
  gt_left = "AlignLeft",
  gt_right = "AlignRight",
  gt_center = "AlignCenter",
}

local function alignment_of(cell)
  for _, class in ipairs(cell.attr.classes) do
    if ALIGNMENTS[class] ~= nil then
      return ALIGNMENTS[class]
    end
  end
  local style = cell.attr.attributes["style"] or ""
  local align = style:match("text%-align:%s*(%a+)")
  if align == "right" then
    return "AlignRight"
  elseif align == "center" then
    return "AlignCenter"
  elseif align == "left" then
    return "AlignLeft"
  end
  return cell.alignment
end

local function each_row(tbl, action)
  for _, row in ipairs(tbl.head.rows) do
    action(row, "head")
  end
  for _, body in ipairs(tbl.bodies) do
    for _, row in ipairs(body.head) do
      action(row, "group")
    end
    for _, row in ipairs(body.body) do
      action(row, "body")
    end
  end
  for _, row in ipairs(tbl.foot.rows) do
    action(row, "foot")
  end
end

-- Column alignments from the body cells that span one column; cells then inherit them, so
-- Word and Typst get one alignment per column rather than one per cell.
local function tidy_table(tbl)
  local columns = {}
  each_row(tbl, function(row, part)
    local column = 1
    for _, cell in ipairs(row.cells) do
      cell.alignment = alignment_of(cell)
      if part == "body" and cell.col_span == 1 and columns[column] == nil
          and cell.alignment ~= "AlignDefault" then
        columns[column] = cell.alignment
      end
      column = column + cell.col_span
    end
  end)
  for index, spec in ipairs(tbl.colspecs) do
    tbl.colspecs[index] = { columns[index] or spec[1], spec[2] }
  end
  each_row(tbl, function(row)
    row.attr = pandoc.Attr()
    local column = 1
    for _, cell in ipairs(row.cells) do
      if cell.col_span == 1 and cell.alignment == columns[column] then
        cell.alignment = "AlignDefault"
      end
      cell.attr = pandoc.Attr()
      column = column + cell.col_span
    end
  end)
  for _, body in ipairs(tbl.bodies) do
    body.attr = pandoc.Attr()
    -- Row-group rows ("Offered", "Reached") label the rows below them, as bold text does.
    for _, row in ipairs(body.head) do
      for _, cell in ipairs(row.cells) do
        cell.contents = cell.contents:walk({
          Plain = function(plain)
            return pandoc.Plain({ pandoc.Strong(plain.content) })
          end,
        })
      end
    end
  end
  tbl.head.attr = pandoc.Attr()
  tbl.foot.attr = pandoc.Attr()
  tbl.attr = pandoc.Attr()
  return tbl
end

local drop = function()
  return {}
end

local reading = {
  RawInline = drop, -- <style> and <script> inside the HTML
  RawBlock = drop,
  Div = function(div)
    return div.content
  end,
  Plain = function(plain)
    if #plain.content == 0 then
      return {}
    end
  end,
  Table = tidy_table,
}

local function from_html(raw)
  if raw.format ~= "html" then
    return nil
  end
  local blocks = pandoc.read(raw.text, "html").blocks
  return blocks:walk(reading)
end

-- Table floats ----------------------------------------------------------------------------

local function flatten(blocks, into)
  for _, block in ipairs(blocks) do
    if block.t == "Div" and not block.classes:includes("float-caption") and block.identifier == "" then
      flatten(block.content, into)
    else
      into:insert(block)
    end
  end
  return into
end

local function table_float(div)
  if not div.identifier:match("^tbl%-.") then
    return nil
  end
  local caption = nil
  local tables = 0
  local rest = flatten(div.content, pandoc.Blocks({}))
  local kept = pandoc.Blocks({})
  for _, block in ipairs(rest) do
    if block.t == "Div" and block.classes:includes("float-caption") then
      caption = block.content
    else
      if block.t == "Table" then
        tables = tables + 1
      end
      kept:insert(block)
    end
  end
  if tables ~= 1 then
    return nil
  end
  for index, block in ipairs(kept) do
    if block.t == "Table" then
      block.identifier = div.identifier
      if caption ~= nil then
        block.caption.long = caption
      end
      kept[index] = block
    end
  end
  return kept
end

return {
  { RawBlock = from_html },
  { Div = table_float },
}
