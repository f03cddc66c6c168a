# paragraphs.awk: plain text to JSON lines, one document per paragraph
# (blank-line separated), each {"text": "...\n"}: how tiny Shakespeare is
# cut into documents for training, as llm.c's preparation does.
BEGIN { RS = "" }
{
	gsub(/\\/, "\\\\")
	gsub(/"/, "\\\"")
	gsub(/\t/, "\\t")
	gsub(/\n/, "\\n")
	printf "{\"text\": \"%s\\n\"}\n", $0
}
