"""The representative operations the benchmark drives, with their variables."""

FILTERED_PAGE = """
query {
  tasks(where: {status: {in: [PENDING, IN_PROGRESS]}, priority: {eq: HIGH}},
        orderBy: [{field: DUE_DATE, direction: ASC}], first: 50) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id title status priority progressPercent dueDate }
  }
}"""

NESTED = """
query {
  tasks(where: {parentId: {isNull: true}}, first: 50) {
    nodes {
      id title status
      project { id slug }
      parent { id }
      assignments { role worker { id handle } }
      subtasks(first: 5) {
        nodes { id title assignments { role worker { id handle } } }
      }
    }
  }
}"""

PROJECTS = """
query {
  projects(first: 20) {
    nodes {
      slug
      tasks(first: 10) { totalCount nodes { id title } }
      stats { total averageProgress byStatus { status count } }
    }
  }
}"""

TREE = """
query ($id: ID!) {
  task(id: $id) { id title ancestors { id title } descendants { id title } }
}"""

FIRST_PAGE = """
query {
  tasks(first: 50, orderBy: [{field: CREATED_AT, direction: DESC}]) {
    pageInfo { hasNextPage endCursor }
    nodes { id title createdAt }
  }
}"""

DEEP_PAGE = """
query ($after: String) {
  tasks(first: 50, after: $after, orderBy: [{field: CREATED_AT, direction: DESC}]) {
    pageInfo { hasNextPage endCursor }
    nodes { id title createdAt }
  }
}"""

# name -> (document, what the variables are filled with; see run.py)
QUERIES = {
    "filtered-sorted-page": (FILTERED_PAGE, None),
    "nested-50-tasks": (NESTED, None),
    "projects-tasks-stats": (PROJECTS, None),
    "task-ancestors-descendants": (TREE, "deep_task"),
    "page-first": (FIRST_PAGE, None),
    "page-90k-deep": (DEEP_PAGE, "deep_cursor"),
}
